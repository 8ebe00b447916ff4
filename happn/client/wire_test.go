package client

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Frames captured between the npm clients and a happn-3 server (ids
// shortened).
const (
	traceLoginError  = `{"data":null,"_meta":{"type":"response","status":"error","published":false,"eventId":3,"action":"login","error":{"name":"AccessDenied","code":401,"message":"Invalid credentials"}},"protocol":"happn_4"}`
	traceGetArray    = `[{"x":1,"_meta":{"path":"/test/a","created":1795648946467,"modified":1795648946467}},{"value":5,"_meta":{"path":"/test/b","created":1795648946469,"modified":1795648946469}},{"type":"response","status":"ok","published":false,"eventId":8,"sessionId":"SID","action":"get"}]`
	tracePublication = `{"data":{"x":2},"_meta":{"action":"/SET@/test/a","type":"data","sessionId":"SID","consistency":2,"publicationId":"SID-11","path":"/test/a","created":1795648946467,"modified":1795648946679,"eventOrigin":{"username":"_ADMIN","id":"SID"},"custom":"m","channel":"/ALL@/test/*"},"protocol":"happn_4"}`
	traceDisconnect  = `{"_meta":{"type":"system"},"data":{"reason":"token-revoked"},"eventKey":"server-side-disconnect"}`
	tracePubAck      = `{"id":"SID-19","action":"publication-ack","result":{"successful":3,"failed":0,"skipped":0,"acknowledged":3,"queued":3},"status":"ok","_meta":{"type":"ack","eventId":19},"protocol":"happn_4"}`
	traceNoData      = `{"_meta":{"path":"/test/pub","eventId":17,"type":"response","status":"ok","published":true}}`
	traceOnInitial   = `{"data":[{"value":5,"_meta":{"path":"/test/b","created":1,"modified":2}}],"_meta":{"status":"ok","referenceId":"ref-1","type":"response","published":false,"eventId":13,"sessionId":"SID","action":"on"},"protocol":"happn_4"}`
)

func TestDecodeTraceFrames(t *testing.T) {
	in, err := decodeFrame([]byte(traceLoginError))
	if err != nil || in.kind != frameResponse || in.resp.meta.Status != "error" || in.resp.meta.EventID != 3 {
		t.Fatalf("error frame: %+v, %v", in, err)
	}
	se := parseServerError(in.resp.meta.Error)
	if se.Name != "AccessDenied" || se.Code != 401 || se.Message != "Invalid credentials" || se.Error() != "AccessDenied: Invalid credentials" {
		t.Fatalf("server error = %#v", se)
	}
	if !isAuthError(se) {
		t.Fatal("401 is an auth error")
	}

	in, err = decodeFrame([]byte(traceGetArray))
	if err != nil || !in.resp.isArray || in.resp.meta.EventID != 8 {
		t.Fatalf("array frame: %+v, %v", in, err)
	}
	res, err := getResult(in.resp)
	if err != nil || !res.List || len(res.Items) != 2 {
		t.Fatalf("array result: %+v, %v", res, err)
	}
	if res.Items[1].Meta.Path != "/test/b" || res.Items[1].Meta.Created != 1795648946469 || string(res.Items[1].Data) != `{"value":5}` {
		t.Fatalf("second item = %+v %s", res.Items[1].Meta, res.Items[1].Data)
	}

	in, err = decodeFrame([]byte(tracePublication))
	if err != nil || in.kind != framePublication || in.resp.meta.Channel != "/ALL@/test/*" {
		t.Fatalf("publication: %+v, %v", in, err)
	}
	var meta EventMeta
	if err := json.Unmarshal(in.resp.metaRaw, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.EventOrigin == nil || meta.EventOrigin.Username != "_ADMIN" || meta.PublicationID != "SID-11" || meta.Modified != 1795648946679 {
		t.Fatalf("event meta = %+v", meta)
	}

	if in, err = decodeFrame([]byte(traceDisconnect)); err != nil || in.kind != frameSystem {
		t.Fatalf("system frame: %+v, %v", in, err)
	}
	if in, err = decodeFrame([]byte(tracePubAck)); err != nil || in.kind != frameAck {
		t.Fatalf("ack frame: %+v, %v", in, err)
	}
	in, err = decodeFrame([]byte(traceNoData))
	if err != nil || in.resp.hasData || !in.resp.dataIsNull() || in.resp.meta.EventID != 17 {
		t.Fatalf("noDataResponse frame: %+v, %v", in, err)
	}
	it, err := replyItem(in.resp)
	if err != nil || it.Meta.Path != "/test/pub" || !it.Meta.Published || it.Data != nil {
		t.Fatalf("noDataResponse item: %+v, %v", it, err)
	}

	in, err = decodeFrame([]byte(traceOnInitial))
	if err != nil || string(in.resp.meta.ReferenceID) != `"ref-1"` {
		t.Fatalf("initial on reply: %+v, %v", in, err)
	}
	if res, err := getResult(in.resp); err != nil || len(res.Items) != 1 || res.Items[0].Meta.Path != "/test/b" {
		t.Fatalf("initial items: %+v, %v", res, err)
	}

	in, err = decodeFrame([]byte(`"primus::ping::1795648949296"`))
	if err != nil || in.kind != frameControl || in.control != "primus::ping::1795648949296" {
		t.Fatalf("control frame: %+v, %v", in, err)
	}

	for _, bad := range []string{``, `[]`, `{"data":1}`, `{`, `42`, `{"_meta":5}`} {
		if _, err := decodeFrame([]byte(bad)); err == nil {
			t.Errorf("frame %q accepted", bad)
		}
	}
}

func TestParseServerErrorShapes(t *testing.T) {
	se := parseServerError(json.RawMessage(`{"message":"bad path"}`))
	if se.Name != "bad path" || se.Code != 0 {
		t.Fatalf("name falls back to message: %#v", se)
	}
	se = parseServerError(json.RawMessage(`"plain failure"`))
	if se.Name != "plain failure" {
		t.Fatalf("string error: %#v", se)
	}
	se = parseServerError(json.RawMessage(`{"name":"AccessDenied","code":403,"message":"unauthorized","reason":"x"}`))
	if se.Fields["reason"] != "x" || se.Code != 403 || !isAuthError(se) {
		t.Fatalf("fields: %#v", se)
	}
	if isAuthError(errors.New("other")) {
		t.Fatal("plain error is not an auth error")
	}
}

func TestRequestEncoding(t *testing.T) {
	b, err := json.Marshal(&request{Action: "describe", EventID: 2})
	if err != nil || string(b) != `{"action":"describe","eventId":2,"data":null}` {
		t.Fatalf("describe = %s, %v", b, err)
	}
	b, _ = json.Marshal(&request{Action: "ack", EventID: 20, Data: "SID-19", SessionID: "SID"})
	if string(b) != `{"action":"ack","eventId":20,"data":"SID-19","sessionId":"SID"}` {
		t.Fatalf("ack = %s", b)
	}
	b, _ = json.Marshal(&request{Action: "get", EventID: 6, Path: "/test/a", SessionID: "SID", Options: map[string]any{"timeout": 60000}})
	if string(b) != `{"action":"get","eventId":6,"path":"/test/a","data":null,"sessionId":"SID","options":{"timeout":60000}}` {
		t.Fatalf("get = %s", b)
	}
}

func TestSignNonce(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	nonce := "vMAjZSzKOylrumiQvoh4j+zV8dQ03anZBd1oYssS1nk="
	digest, err := signNonce(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(nonce)
	sum := sha256.Sum256(raw)
	sig, err := base64.StdEncoding.DecodeString(digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if _, err := signNonce(key, "%%%"); err == nil {
		t.Fatal("bad nonce accepted")
	}
	pub := publicKeyPEM(key)
	if !strings.HasPrefix(pub, "-----BEGIN RSA PUBLIC KEY-----\n") {
		t.Fatalf("public key PEM = %q", pub)
	}
	pk1 := "-----BEGIN RSA PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(mustPKCS1(key)) + "\n-----END RSA PRIVATE KEY-----\n"
	back, err := parsePrivateKey(pk1)
	if err != nil || !back.Equal(key) {
		t.Fatalf("parse PKCS#1: %v", err)
	}
	if _, err := parsePrivateKey("junk"); err == nil {
		t.Fatal("junk key accepted")
	}
}

func TestSocketURLAndBackoff(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:55000": "ws://127.0.0.1:55000/primus",
		"https://h:1/some/path":  "wss://h:1/primus",
		"ws://h:2?x=1":           "ws://h:2/primus?x=1",
		"wss://h:3/":             "wss://h:3/primus",
	} {
		if got, err := socketURL(in); err != nil || got != want {
			t.Errorf("socketURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://h", "http://", "::"} {
		if _, err := socketURL(bad); err == nil {
			t.Errorf("socketURL(%q) accepted", bad)
		}
	}
	r := Reconnect{Min: 500 * time.Millisecond, Factor: 2, Max: 3 * time.Second}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	for i, w := range want {
		if got := r.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"/a/b", "/a b/(c)/{d}/e+f=g&h:i%j@k.l_m-n", "/x/*"} {
		if err := checkPath(ok, false); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/a$", "/ü"} {
		if err := checkPath(bad, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := checkPath("/x/*", true); err == nil {
		t.Error("set path with * accepted")
	}
}

func TestEventKeyDedup(t *testing.T) {
	a := eventKeyOf("/ALL@/a", "all", 0, OnOptions{Meta: map[string]any{"m": 1}}, 0)
	b := eventKeyOf("/ALL@/a", "all", 0, OnOptions{Meta: map[string]any{"m": 1}}, 0)
	c := eventKeyOf("/ALL@/a", "all", 1, OnOptions{}, 0)
	if a != b || a == c {
		t.Fatalf("event keys: %s %s %s", a, b, c)
	}
	if a != `{"path":"/ALL@/a","event_type":"all","count":0,"meta":{"m":1}}` {
		t.Fatalf("event key = %s", a)
	}
}

func mustPKCS1(k *rsa.PrivateKey) []byte { return x509.MarshalPKCS1PrivateKey(k) }

// The hand-written request encoder produces what encoding/json would.
func TestRequestEncodeMatchesEncodingJSON(t *testing.T) {
	reqs := []*request{
		{Action: "set", EventID: 7, Path: "/a/b", Data: map[string]any{"x": 1}, SessionID: "s-1", Options: map[string]any{"timeout": 60000, "merge": true}},
		{Action: "get", EventID: 8, Path: "/ä/<&>", Data: nil},
		{Action: "set", EventID: 9, Path: "/r", Data: json.RawMessage(`{"raw":true}`), Options: map[string]any{}},
		{Action: "describe", EventID: 2, Data: nil},
		{Action: "set", EventID: 10, Path: "/q\"uote", Data: "text"},
	}
	for _, r := range reqs {
		got, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		if string(got) != string(want) {
			t.Errorf("encode:\n got %s\nwant %s", got, want)
		}
	}
}

// decodeEventMeta gives what encoding/json gives for EventMeta (and for
// Fields), and refuses what it refuses.
func TestDecodeEventMetaMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`{"channel":"/ALL@/a/*","action":"/SET@/a/1","path":"/a/1","type":"data","sessionId":"s1","publicationId":"s1-7","consistency":2,"created":1795648949296,"modified":1795648949297,"depth":3}`,
		`{"channel":"/SET@/x","eventOrigin":{"id":"o1","username":"bob"},"componentVersion":"1.2.3","custom":{"deep":[1,2]}}`,
		`{"path":"/e\u0301\"q","consistency":null,"created":null}`,
		`{"path":"/a","path":"/b"}`,
		`{}`,
		` { "channel" : "/c" , "depth" : 0 } `,
	} {
		got, err := decodeEventMeta([]byte(raw))
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		var want EventMeta
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(raw), &want.Fields); err != nil {
			t.Fatal(err)
		}
		gotFields, wantFields := got.Fields, want.Fields
		got.Fields, want.Fields = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", raw, got, want)
		}
		if len(gotFields) != len(wantFields) {
			t.Errorf("%s: fields %v, want %v", raw, gotFields, wantFields)
		}
		for k, v := range wantFields {
			if string(gotFields[k]) != string(v) {
				t.Errorf("%s: field %s = %s, want %s", raw, k, gotFields[k], v)
			}
		}
	}
	for _, raw := range []string{
		`{"consistency":"2"}`, `{"created":1.5}`, `{"channel":5}`, `{"eventOrigin":"x"}`, `[1]`, `{"a":}`, `{"depth":1e3}`,
	} {
		var m EventMeta
		jsonErr := json.Unmarshal([]byte(raw), &m)
		if _, err := decodeEventMeta([]byte(raw)); (err == nil) != (jsonErr == nil) {
			t.Errorf("%s: error %v, encoding/json: %v", raw, err, jsonErr)
		}
	}
}
