package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/happner-go/happner/metrics"
)

// A node's layers share one Metrics: each binds its instruments once and
// the hot path only touches them. The registry is the node's own, so
// several nodes can run in one process.
func Example() {
	m := metrics.New(metrics.Info{Version: "v0.0.0-example"})

	set := m.Action("set") // bound once, when the server starts
	for seq := int64(1); seq <= 3; seq++ {
		start := set.Start(seq) // the seq-th request of its session
		// ... process the request ...
		set.Done(start, metrics.StatusOK)
	}
	m.Login(metrics.LoginBadCredentials)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, `happner_requests_total{action="set"`) || strings.HasPrefix(line, `happner_logins_total{result="bad`) {
			fmt.Println(line)
		}
	}
	// Output:
	// happner_logins_total{result="bad_credentials"} 1
	// happner_requests_total{action="set",status="denied"} 0
	// happner_requests_total{action="set",status="error"} 0
	// happner_requests_total{action="set",status="ok"} 3
}
