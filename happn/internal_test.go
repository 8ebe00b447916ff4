package happn

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// In-process subscribers receive publications as values; in-process
// publications reach websocket subscribers like a client's set.
func TestInternalSubscribeAndPublish(t *testing.T) {
	srv := startServer(t, Config{})
	// the *Publication is valid during the call only: keep a copy
	type seen struct {
		pub Publication
		id  string
	}
	got := make(chan seen, 4)
	keep := func(p *Publication) { got <- seen{*p, p.PublicationID()} }
	cancel := srv.Subscribe("/internal/*", SubscribeOptions{Action: "SET"}, keep)
	srv.Subscribe("/internal/*", SubscribeOptions{}, keep) // same pattern: not deduplicated
	c := dialRaw(t, srv)
	c.handshake()
	c.send(`{"action":"set","eventId":5,"path":"/internal/a","data":{"v":1},"options":{"meta":{"m":"x"}}}`)
	c.recv()
	for range 2 {
		select {
		case s := <-got:
			p := s.pub
			if p.Action != "set" || p.Path != "/internal/a" || string(p.Data) != `{"v":1}` || string(p.Meta) != `{"m":"x"}` || p.Created == 0 {
				t.Fatalf("publication %+v", p)
			}
			if !strings.HasSuffix(s.id, "-5") {
				t.Fatalf("publication id %q, want <session id>-5", s.id)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no publication")
		}
	}
	cancel()

	c.send(`{"action":"on","eventId":6,"path":"/ALL@/replicated/*","data":null,"options":{}}`)
	c.recv()
	n, err := srv.Publish(context.Background(), PublishRequest{Action: "remove", Path: "/replicated/x", Data: json.RawMessage(`{"removed":1}`),
		Origin: &Origin{Username: "bob", ID: "peer-session"}, SessionID: "peer-session", NoCluster: true})
	if err != nil || n != 1 {
		t.Fatalf("Publish delivered %d messages (%v), want 1: the client's subscription", n, err)
	}
	m := c.recvJSON()
	mt := meta(m)
	if mt["action"] != "/REMOVE@/replicated/x" || mt["sessionId"] != "peer-session" || mt["channel"] != "/ALL@/replicated/*" {
		t.Fatalf("publication frame %v", m)
	}
	if o := mt["eventOrigin"].(map[string]any); o["username"] != "bob" {
		t.Fatalf("eventOrigin %v", o)
	}
}

func TestDeliveryFilter(t *testing.T) {
	srv, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDeliveryFilter(func(p *Publication, subMeta json.RawMessage) bool {
		var pm, sm struct{ V string }
		_ = json.Unmarshal(p.Meta, &pm)
		_ = json.Unmarshal(subMeta, &sm)
		return pm.V == sm.V
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	c := dialRaw(t, srv)
	c.handshake()
	c.send(`{"action":"on","eventId":5,"path":"/ALL@/f/*","options":{"meta":{"V":"2"}}}`)
	c.recv()
	c.send(`{"action":"set","eventId":6,"path":"/f/a","data":{},"options":{"noStore":true,"meta":{"V":"1"}}}`)
	if m := meta(c.recvJSON()); m["type"] != "response" {
		t.Fatalf("filtered publication delivered: %v", m)
	}
	c.send(`{"action":"set","eventId":7,"path":"/f/a","data":{},"options":{"noStore":true,"meta":{"V":"2"}}}`)
	if m := meta(c.recvJSON()); m["type"] != "data" {
		t.Fatalf("matching publication not delivered: %v", m)
	}
	if m := meta(c.recvJSON()); m["type"] != "response" {
		t.Fatalf("after the publication: %v", m)
	}
	// a second subscription to the same channel without meta: the session
	// gets the publication the first one filters out, once
	c.send(`{"action":"on","eventId":8,"path":"/ALL@/f/*","options":{}}`)
	c.recv()
	c.send(`{"action":"set","eventId":9,"path":"/f/a","data":{},"options":{"noStore":true,"meta":{"V":"1"}}}`)
	if m := meta(c.recvJSON()); m["type"] != "data" {
		t.Fatalf("publication filtered for one subscription only not delivered: %v", m)
	}
	if m := meta(c.recvJSON()); m["type"] != "response" {
		t.Fatalf("publication delivered twice: %v", m)
	}
}

// Watched counts client subscriptions that a set at the path would reach:
// not in-process subscribers, and cluster members' sessions only when
// asked to.
func TestWatched(t *testing.T) {
	srv := startServer(t, Config{})
	cancel := srv.Subscribe("/watched/*", SubscribeOptions{}, func(*Publication) {})
	defer cancel()
	if srv.Watched("/watched/a", true) {
		t.Fatal("an in-process subscriber counted as a watcher")
	}

	peer := dialRaw(t, srv)
	peer.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4","version":"13.12.1","browser":false}}`)
	peer.recv()
	peer.send(`{"action":"login","eventId":2,"data":{"info":{"clusterName":"c","name":"m2"},"protocol":"happn_4"},"options":{"timeout":60000}}`)
	peer.recv()
	peer.send(`{"action":"on","eventId":3,"path":"/SET@/watched/a","data":null,"options":{}}`)
	peer.recv()
	if !srv.Watched("/watched/a", true) || srv.Watched("/watched/a", false) {
		t.Fatalf("a member's subscription: Watched(peers) %v, Watched(no peers) %v; want true, false",
			srv.Watched("/watched/a", true), srv.Watched("/watched/a", false))
	}

	c := dialRaw(t, srv)
	c.handshake()
	c.send(`{"action":"on","eventId":4,"path":"/REMOVE@/watched/*","data":null,"options":{}}`)
	c.recv()
	if srv.Watched("/watched/b", false) {
		t.Fatal("a subscription to removes counted as watching sets")
	}
	c.send(`{"action":"on","eventId":5,"path":"/ALL@/watched/*","data":null,"options":{}}`)
	c.recv()
	if !srv.Watched("/watched/b", false) || srv.Watched("/other/b", false) {
		t.Fatal("a client's subscription to /watched/* not seen, or seen on another path")
	}
	c.send(`{"action":"off","eventId":6,"path":"/ALL@/watched/*","data":null,"options":{}}`)
	c.recv()
	if srv.Watched("/watched/b", false) {
		t.Fatal("still watched after off")
	}
}
