package browsertest

import (
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/internal/clustertest"
	"github.com/happner-go/happner/store/memory"
	"github.com/happner-go/happner/webclient"
)

// A page on a cluster member loads /api/client from the member's client
// port, calls a component and receives a component event emitted on the
// other member (replicated through the cluster).
func TestMeshClientOnClusterMember(t *testing.T) {
	shared := memory.New()
	t.Cleanup(func() { _ = shared.Close() })
	cfgs := make([]cluster.Config, 2)
	for i := range cfgs {
		c := &cfgs[i]
		c.Name = []string{"memberA", "memberB"}[i]
		c.Domain = "browserCluster"
		c.Logger = quietLogger()
		c.Happn.Host = "127.0.0.1"
		c.Happn.Logger = quietLogger()
		c.Happn.HTTPExclusions = []string{"/page"}
		c.SharedStore = shared
		c.Membership = cluster.MembershipConfig{
			DeploymentID: "browser-test", ServiceName: "svc", Dependencies: map[string]int{"svc": 1}, // the other member
			PulseInterval: 50 * time.Millisecond, MemberScanningInterval: 100 * time.Millisecond,
			StaleMemberThreshold: 600 * time.Millisecond, DiscoverTimeout: 10 * time.Second, StabiliseTimeout: 10 * time.Second,
		}
		c.Modules = map[string]happner.ModuleConfig{"calc": {Instance: calc{}}, "emitter": {Instance: emitter{}}}
		c.Components = map[string]happner.ComponentConfig{"calc": {}, "emitter": {}}
		c.WebFuncs.Routes = []happner.RootRoute{{Mount: "/page", Handler: func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
			pageHandler(webclient.APIClientPath)(w, r)
		}}}
	}
	members := clustertest.Start(t, 30*time.Second, cfgs...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p := openPage(t, "http://"+members[0].ClientAddr()+"/page")
	var got map[string]any
	p.eval(`
		window.client = new MeshClient();
		await client.login();
		window.events = [];
		await client.event.emitter.on('cluster/*', (data) => events.push(data.v));
		return {name: client.info.name, add: await client.exchange.calc.add(20, 1)};
	`, &got)
	if !reflect.DeepEqual(got, map[string]any{"name": "browserCluster", "add": 21.0}) {
		t.Errorf("got %v", got)
	}
	if err := members[1].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"cluster/b", 2}, nil); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the event emitted on the other member", `return events.length === 1 && events[0] === 2;`)
}
