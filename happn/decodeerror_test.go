package happn

import (
	"encoding/json"
	"strings"
	"testing"
)

// A frame that cannot be decoded is answered with the request's eventId
// whenever the frame has a top-level numeric eventId, wherever it stands
// and whatever is broken around it, so the client matches the error to its
// request instead of waiting for its timeout. The socket keeps serving.
func TestUndecodableFrameReplyCarriesEventID(t *testing.T) {
	srv := startServer(t, Config{})
	c := dialWS(t, srv.Addr(), nil)
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	cases := []struct {
		frame   string
		eventID any    // nil: the reply has none
		action  string // the reply's _meta.action when eventID is set
	}{
		{`{"action":5,"eventId":3}`, float64(3), ""},
		{`{"action":"set","eventId":4,"path":"/x","data":` + deep + `}`, float64(4), "set"},
		{`{"action":"set","eventId":5,"path":"/x","data":{"s":"bad \q escape"}}`, float64(5), "set"},
		// the eventId after the broken part
		{`{"action":"set","path":"/x","data":` + deep + `,"eventId":6}`, float64(6), "set"},
		{`{"action":"set","path":"/x","data":"\q [{\"","eventId":7,"options":{}}`, float64(7), "set"},
		{`{"data":{"a":[1,{"b":"\x"}]} , "eventId" : -8.5e1, "action":5}`, float64(-85), ""},
		{`{"action":"get","eventId":9,"sessionId":"s1","path":"/x","data":` + deep + `}`, float64(9), "get"},
		// a broken eventId, or none: today's reply, without one
		{`{not json`, nil, ""},
		{`{"action":5,"eventId":"ten"}`, nil, ""},
		{`{"action":5,"eventId":01}`, nil, ""},
		{`{"action":"set","data":"\q","eventId":{"n":3}}`, nil, ""},
		{`{"data":{"eventId":11},"action":5}`, nil, ""},
		{`[{"eventId":12}]`, nil, ""},
	}
	for _, tc := range cases {
		c.text(tc.frame)
		reply := c.expectText()
		var m map[string]any
		if err := json.Unmarshal([]byte(reply), &m); err != nil {
			t.Fatalf("%.60s: reply %s: %v", tc.frame, reply, err)
		}
		meta := meta(m)
		e, _ := meta["error"].(map[string]any)
		if meta["status"] != "error" || e["name"] != "Error" || !strings.HasPrefix(e["message"].(string), "Failed to decode incoming data: ") {
			t.Fatalf("%.60s: reply %s", tc.frame, reply)
		}
		if meta["eventId"] != tc.eventID {
			t.Errorf("%.60s: eventId %v, want %v (reply %s)", tc.frame, meta["eventId"], tc.eventID, reply)
		}
		want := map[string]bool{"type": true, "status": true, "published": true, "error": true}
		if tc.eventID != nil {
			// the shape of every other error reply to a request
			want["eventId"], want["action"] = true, true
			if meta["action"] != tc.action {
				t.Errorf("%.60s: action %v, want %q", tc.frame, meta["action"], tc.action)
			}
		}
		for k := range meta {
			if !want[k] {
				t.Errorf("%.60s: unexpected _meta.%s in %s", tc.frame, k, reply)
			}
			delete(want, k)
		}
		if len(want) > 0 {
			t.Errorf("%.60s: _meta lacks %v: %s", tc.frame, want, reply)
		}
		if m["data"] != nil || m["protocol"] != "happn" {
			t.Errorf("%.60s: reply %s", tc.frame, reply)
		}
	}
	c.text(describeRequest)
	c.expectDescribe()
}
