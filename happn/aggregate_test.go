package happn

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/happner-go/happner/internal/mongotest"
	"github.com/happner-go/happner/store"
)

// TestMain stops the private FerretDB server of the aggregate tests.
func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

// dataOf returns the data of a reply frame.
func dataOf(t *testing.T, m map[string]any) any {
	t.Helper()
	if meta(m)["status"] != "ok" {
		t.Fatalf("reply %v: want status ok", m)
	}
	return m["data"]
}

// errorMessage returns the error message of a reply frame.
func errorMessage(m map[string]any) string {
	e, _ := meta(m)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// A get with an aggregate pipeline answers {value: [...]}, the pipeline's
// output, when the path's datastore is MongoDB (as happn-3 does with
// happn-db-provider-mongo); on other datastores, and for collations,
// happn's "feature not available" errors.
func TestAggregateAndCollationOptions(t *testing.T) {
	db := mongotest.Start(t)
	srv := startServer(t, Config{Datastores: []store.DatastoreConfig{
		{Name: "mongo", Provider: "mongo", IsDefault: true, Settings: db.Settings("")},
		{Name: "local", Provider: "memory", Patterns: []string{"/local/*"}},
	}})
	c := dialRaw(t, srv)
	c.handshake()
	id := 10
	call := func(action, path, options string, data string) map[string]any {
		t.Helper()
		id++
		frame := `{"action":"` + action + `","eventId":` + itoa(id) + `,"path":` + quote(path)
		if data != "" {
			frame += `,"data":` + data
		}
		if options != "" {
			frame += `,"options":` + options
		}
		c.send(frame + `}`)
		return c.recvJSON()
	}
	for i, g := range []string{"a", "b", "a", "a"} {
		dataOf(t, call("set", "/agg/"+itoa(i), "", `{"g":"`+g+`","n":`+itoa(i+1)+`}`))
		dataOf(t, call("set", "/local/"+itoa(i), "", `{"g":"`+g+`"}`))
	}
	agg := `{"criteria":{"n":{"$gt":1}},"aggregate":[{"$group":{"_id":"$data.g","total":{"$sum":"$data.n"}}},{"$sort":{"_id":1}}]}`
	got, _ := json.Marshal(dataOf(t, call("get", "/agg/*", agg, "")))
	if string(got) != `{"value":[{"_id":"a","total":7},{"_id":"b","total":2}]}` {
		t.Errorf("aggregate reply data = %s", got)
	}
	// the count of a query with a pipeline counts, as before
	got, _ = json.Marshal(dataOf(t, call("count", "/agg/*", agg, "")))
	if string(got) != `{"value":3}` {
		t.Errorf("count with a pipeline = %s", got)
	}
	if msg := errorMessage(call("get", "/local/*", agg, "")); msg != "aggregate feature not available for provider on path: /local/*" {
		t.Errorf("aggregate on the memory datastore: %q", msg)
	}
	coll := `{"criteria":{"g":"A"},"options":{"collation":{"locale":"en","strength":1}}}`
	for _, action := range []string{"get", "count"} {
		if msg := errorMessage(call(action, "/local/*", coll, "")); msg != "collation feature not available for provider on path: /local/*" {
			t.Errorf("%s with a collation on the memory datastore: %q", action, msg)
		}
		reply := call(action, "/agg/*", coll, "")
		if mongotest.IsFerretDB(t, db.URL) {
			// FerretDB 1.x refuses collations: the option reached the server
			if msg := errorMessage(reply); !strings.Contains(msg, "collation") {
				t.Errorf("%s with a collation on FerretDB: %v", action, reply)
			}
		} else if action == "count" {
			got, _ := json.Marshal(dataOf(t, reply))
			if string(got) != `{"value":3}` {
				t.Errorf("case-insensitive count = %s", got)
			}
		}
	}
	// a remove reads only the criteria, as in happn-3
	got, _ = json.Marshal(dataOf(t, call("remove", "/local/*", `{"criteria":{"g":"b"},"options":{"collation":{"locale":"en"}}}`, "")))
	if string(got) != `{"removed":1}` {
		t.Errorf("remove with a collation option = %s", got)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
