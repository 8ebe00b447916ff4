package happn

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/happner-go/happner/happn/client"
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

// An aggregate's output cannot be narrowed to the records a user may see:
// a user whose get on the path holds only because of per-item rules (here a
// prohibition below it) may not aggregate over it.
func TestAggregateNeedsTheWholePath(t *testing.T) {
	db := mongotest.Start(t)
	srv := secureServer(t, Config{Datastores: []store.DatastoreConfig{
		{Name: "mongo", Provider: "happn-db-provider-mongo", IsDefault: true, Settings: db.Settings("")},
	}})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	for _, p := range []string{"/public/a", "/public/b", "/public/secret/c"} {
		if _, err := admin.Set(ctx, p, map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	alice := connect(t, srv, "alice", "secret")
	count := client.With("aggregate", []any{map[string]any{"$count": "n"}})
	res, err := alice.Get(ctx, "/public/*", count)
	if err != nil || res.One() == nil || string(res.One().Data) != `{"value":[{"n":3}]}` {
		t.Fatalf("aggregate over a path alice may read: %+v %v", res, err)
	}
	if err := srv.Security().UpsertPermission(ctx, "readers", "/public/secret/*", "get", false); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Get(ctx, "/public/*", count)
	wantDenied(t, err, "unauthorized")
	// the plain get still answers, without the prohibited item
	if res, err := alice.Get(ctx, "/public/*"); err != nil || len(res.Items) != 2 {
		t.Fatalf("get after the prohibition: %+v %v", res, err)
	}
}
