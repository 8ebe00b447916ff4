package happn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// wsRaw is a websocket client that writes frames byte by byte, so that
// tests can send what a well-behaved library never would: reserved bits,
// bad opcodes, lying lengths, half frames.
type wsRaw struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

// dialWS opens a websocket to srv's /primus with the extra headers given.
func dialWS(t testing.TB, addr string, header http.Header) *wsRaw {
	t.Helper()
	c, resp := dialWSResponse(t, addr, header)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", resp.StatusCode)
	}
	return c
}

func dialWSResponse(t testing.TB, addr string, header http.Header) (*wsRaw, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET /primus?_primuscb=raw HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", addr)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return &wsRaw{t: t, conn: conn, br: br}, resp
}

// clientFrame builds a masked client frame; rsv sets the reserved bits
// (0-7) and length, unless -1, overrides the announced payload length.
func clientFrame(fin bool, rsv, op byte, payload []byte, length int64) []byte {
	b0 := op | rsv<<4
	if fin {
		b0 |= 0x80
	}
	if length == -1 {
		length = int64(len(payload))
	}
	b := []byte{b0}
	switch {
	case length < 0:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	case length < 126:
		b = append(b, 0x80|byte(length))
	case length <= 0xffff:
		b = append(b, 0x80|126, byte(length>>8), byte(length))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range payload {
		b[start+i] ^= mask[i%4]
	}
	return b
}

func (c *wsRaw) write(parts ...[]byte) {
	c.t.Helper()
	if _, err := c.conn.Write(bytes.Join(parts, nil)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// text sends one complete text frame.
func (c *wsRaw) text(s string) { c.write(clientFrame(true, 0, opText, []byte(s), -1)) }

// readFrame reads the next server frame.
func (c *wsRaw) readFrame(timeout time.Duration) (op byte, payload []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err = io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err = io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = int64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err = io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = int64(binary.BigEndian.Uint64(l[:]))
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// expectText reads frames until a text frame and returns it.
func (c *wsRaw) expectText() string {
	c.t.Helper()
	for {
		op, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for a text frame: %v", err)
		}
		if op == opText {
			return string(p)
		}
	}
}

// expectClose reads until the server's close frame, checks its code (-1:
// a close frame without a code) and then that the server closes the TCP
// connection.
func (c *wsRaw) expectClose(code int) {
	c.t.Helper()
	for {
		op, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for close %d: %v", code, err)
		}
		if op != opClose {
			continue
		}
		got := -1
		if len(p) >= 2 {
			got = int(binary.BigEndian.Uint16(p))
		}
		if got != code {
			c.t.Fatalf("close code %d (%q), want %d", got, p, code)
		}
		c.write(clientFrame(true, 0, opClose, p[:min(len(p), 2)], -1))
		c.expectEOF()
		return
	}
}

// expectEOF checks that the server closes the connection.
func (c *wsRaw) expectEOF() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("the server did not close the connection")
	}
}

const describeRequest = `{"action":"describe","eventId":1,"data":null}`

// expectDescribe checks that a describe reply arrives.
func (c *wsRaw) expectDescribe() {
	c.t.Helper()
	if got := c.expectText(); !strings.Contains(got, `"action":"describe"`) {
		c.t.Fatalf("want the describe reply, got %s", got)
	}
}

func closeFrame(code int, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return clientFrame(true, 0, opClose, append(p, reason...), -1)
}

// TestWebsocketConformance runs cases of the Autobahn test suite's
// categories over a raw socket; each expects what RFC 6455 requires.
func TestWebsocketConformance(t *testing.T) {
	srv := startServer(t, Config{MaxLength: 1 << 20})
	describe := []byte(describeRequest)
	padded := func(n int) []byte { // a describe request padded with spaces to n bytes
		return append(append([]byte(nil), describe...), bytes.Repeat([]byte{' '}, n-len(describe))...)
	}
	euro := []byte("€") // three bytes: e2 82 ac
	setUTF8 := func(v string) string {
		return `{"action":"set","eventId":1,"path":"/utf8","data":{"v":"` + v + `"},"options":{}}`
	}
	cases := []struct {
		name  string
		send  [][]byte
		reply func(c *wsRaw) // nil: expect close with code
		code  int
	}{
		// 1: framing
		{name: "1.1 text, 7-bit length", send: [][]byte{clientFrame(true, 0, opText, padded(125), -1)}, reply: (*wsRaw).expectDescribe},
		{name: "1.2 text, 16-bit length", send: [][]byte{clientFrame(true, 0, opText, padded(126), -1)}, reply: (*wsRaw).expectDescribe},
		{name: "1.3 text, 16-bit length max", send: [][]byte{clientFrame(true, 0, opText, padded(65535), -1)}, reply: (*wsRaw).expectDescribe},
		{name: "1.4 text, 64-bit length", send: [][]byte{clientFrame(true, 0, opText, padded(65536), -1)}, reply: (*wsRaw).expectDescribe},
		{name: "1.5 text, 64-bit length, 700 KB", send: [][]byte{clientFrame(true, 0, opText, padded(700<<10), -1)}, reply: (*wsRaw).expectDescribe},
		// 2: pings and pongs
		{name: "2.1 ping without payload", send: [][]byte{clientFrame(true, 0, opPing, nil, -1)}, reply: expectPong("")},
		{name: "2.2 ping with payload", send: [][]byte{clientFrame(true, 0, opPing, []byte("hello"), -1)}, reply: expectPong("hello")},
		{name: "2.3 ping with 125-byte payload", send: [][]byte{clientFrame(true, 0, opPing, bytes.Repeat([]byte{'p'}, 125), -1)}, reply: expectPong(strings.Repeat("p", 125))},
		{name: "2.4 ping with 126-byte payload", send: [][]byte{clientFrame(true, 0, opPing, bytes.Repeat([]byte{'p'}, 126), -1)}, code: closeProtocolError},
		{name: "2.5 unsolicited pong", send: [][]byte{clientFrame(true, 0, opPong, []byte("x"), -1), clientFrame(true, 0, opText, describe, -1)}, reply: (*wsRaw).expectDescribe},
		{name: "2.6 fragmented ping", send: [][]byte{clientFrame(false, 0, opPing, []byte("a"), -1), clientFrame(true, 0, opContinuation, []byte("b"), -1)}, code: closeProtocolError},
		// 3: reserved bits
		{name: "3.1 RSV1 set", send: [][]byte{clientFrame(true, 4, opText, describe, -1)}, code: closeProtocolError},
		{name: "3.2 RSV2 set", send: [][]byte{clientFrame(true, 2, opText, describe, -1)}, code: closeProtocolError},
		{name: "3.3 RSV3 set on a ping", send: [][]byte{clientFrame(true, 1, opPing, nil, -1)}, code: closeProtocolError},
		// 4: opcodes
		{name: "4.1 reserved data opcode 3", send: [][]byte{clientFrame(true, 0, 3, nil, -1)}, code: closeProtocolError},
		{name: "4.2 reserved data opcode 7", send: [][]byte{clientFrame(true, 0, 7, []byte("x"), -1)}, code: closeProtocolError},
		{name: "4.3 reserved control opcode 11", send: [][]byte{clientFrame(true, 0, 0xB, nil, -1)}, code: closeProtocolError},
		{name: "4.4 reserved control opcode 15", send: [][]byte{clientFrame(true, 0, 0xF, []byte("x"), -1)}, code: closeProtocolError},
		// 5: fragmentation
		{name: "5.1 text in two fragments", send: [][]byte{clientFrame(false, 0, opText, describe[:10], -1), clientFrame(true, 0, opContinuation, describe[10:], -1)}, reply: (*wsRaw).expectDescribe},
		{name: "5.2 text in one fragment per byte", send: fragments(describe, 1), reply: (*wsRaw).expectDescribe},
		{name: "5.3 ping between fragments", send: [][]byte{clientFrame(false, 0, opText, describe[:10], -1), clientFrame(true, 0, opPing, []byte("mid"), -1), clientFrame(true, 0, opContinuation, describe[10:], -1)}, reply: func(c *wsRaw) { expectPong("mid")(c); c.expectDescribe() }},
		{name: "5.4 pong between fragments", send: [][]byte{clientFrame(false, 0, opText, describe[:10], -1), clientFrame(true, 0, opPong, nil, -1), clientFrame(true, 0, opContinuation, describe[10:], -1)}, reply: (*wsRaw).expectDescribe},
		{name: "5.5 continuation without a start", send: [][]byte{clientFrame(true, 0, opContinuation, describe, -1)}, code: closeProtocolError},
		{name: "5.6 text frame inside a fragmented message", send: [][]byte{clientFrame(false, 0, opText, describe[:10], -1), clientFrame(true, 0, opText, describe, -1)}, code: closeProtocolError},
		{name: "5.7 empty fragments", send: [][]byte{clientFrame(false, 0, opText, nil, -1), clientFrame(false, 0, opContinuation, describe, -1), clientFrame(true, 0, opContinuation, nil, -1)}, reply: (*wsRaw).expectDescribe},
		{name: "5.8 binary message", send: [][]byte{clientFrame(true, 0, opBinary, describe, -1)}, code: closeUnsupportedData},
		// 6: UTF-8
		{name: "6.1 valid multi-byte text", send: [][]byte{clientFrame(true, 0, opText, []byte(setUTF8("κόσμε €")), -1)}, reply: expectTextContaining("κόσμε €")},
		{name: "6.2 a character split across fragments", send: splitAt([]byte(setUTF8("a€b")), bytes.Index([]byte(setUTF8("a€b")), euro)+1), reply: expectTextContaining("a€b")},
		{name: "6.3 invalid UTF-8", send: [][]byte{clientFrame(true, 0, opText, []byte("{\"action\":\"describe\",\"x\":\"\xff\"}"), -1)}, code: closeInvalidPayload},
		{name: "6.4 invalid UTF-8 across fragments", send: [][]byte{clientFrame(false, 0, opText, []byte("{\"x\":\"\xe2\x82"), -1), clientFrame(true, 0, opContinuation, []byte("\x28\"}"), -1)}, code: closeInvalidPayload},
		{name: "6.5 truncated character at the end", send: [][]byte{clientFrame(true, 0, opText, append([]byte(`"primus::id::`), euro[:2]...), -1)}, code: closeInvalidPayload},
		// 7: close handshake and close codes
		{name: "7.1 close without payload", send: [][]byte{clientFrame(true, 0, opClose, nil, -1)}, code: -1},
		{name: "7.2 close 1000", send: [][]byte{closeFrame(1000, "")}, code: 1000},
		{name: "7.3 close 1001 with reason", send: [][]byte{closeFrame(1001, "bye")}, code: 1001},
		{name: "7.4 close 3000", send: [][]byte{closeFrame(3000, "")}, code: 3000},
		{name: "7.5 close 4999", send: [][]byte{closeFrame(4999, "")}, code: 4999},
		{name: "7.6 close with a 1-byte payload", send: [][]byte{clientFrame(true, 0, opClose, []byte{3}, -1)}, code: closeProtocolError},
		{name: "7.7 close 999", send: [][]byte{closeFrame(999, "")}, code: closeProtocolError},
		{name: "7.8 close 1004", send: [][]byte{closeFrame(1004, "")}, code: closeProtocolError},
		{name: "7.9 close 1005", send: [][]byte{closeFrame(1005, "")}, code: closeProtocolError},
		{name: "7.10 close 1006", send: [][]byte{closeFrame(1006, "")}, code: closeProtocolError},
		{name: "7.11 close 1016", send: [][]byte{closeFrame(1016, "")}, code: closeProtocolError},
		{name: "7.12 close 5000", send: [][]byte{closeFrame(5000, "")}, code: closeProtocolError},
		{name: "7.13 close reason not UTF-8", send: [][]byte{closeFrame(1000, "\xff\xfe")}, code: closeInvalidPayload},
		{name: "7.14 close reason 123 bytes", send: [][]byte{closeFrame(1000, strings.Repeat("r", 123))}, code: 1000},
		{name: "7.15 nothing is processed after a close", send: [][]byte{closeFrame(1000, ""), clientFrame(true, 0, opText, describe, -1)}, code: 1000},
		// 9: limits and framing errors
		{name: "9.1 message over maxLength", send: [][]byte{clientFrame(true, 0, opText, nil, 2<<20)}, code: closeTooBig},
		{name: "9.2 fragments over maxLength", send: [][]byte{clientFrame(false, 0, opText, bytes.Repeat([]byte{' '}, 600<<10), -1), clientFrame(true, 0, opContinuation, bytes.Repeat([]byte{' '}, 600<<10), -1)}, code: closeTooBig},
		{name: "9.3 64-bit length with the top bit set", send: [][]byte{clientFrame(true, 0, opText, nil, -1<<63)}, code: closeProtocolError},
		{name: "9.4 unmasked frame", send: [][]byte{{0x81, byte(len(describe))}, describe}, code: closeProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, srv.Addr(), nil)
			c.write(tc.send...)
			if tc.reply != nil {
				tc.reply(c)
				// the connection is still usable
				c.text(describeRequest)
				c.expectDescribe()
				return
			}
			c.expectClose(tc.code)
		})
	}
	// the server still serves everyone
	c := dialWS(t, srv.Addr(), nil)
	c.text(describeRequest)
	c.expectDescribe()
}

func expectPong(payload string) func(c *wsRaw) {
	return func(c *wsRaw) {
		c.t.Helper()
		op, p, err := c.readFrame(5 * time.Second)
		if err != nil || op != opPong || string(p) != payload {
			c.t.Fatalf("want pong %q, got op %d %q %v", payload, op, p, err)
		}
	}
}

func expectTextContaining(s string) func(c *wsRaw) {
	return func(c *wsRaw) {
		c.t.Helper()
		if got := c.expectText(); !strings.Contains(got, s) {
			c.t.Fatalf("reply %s does not contain %q", got, s)
		}
	}
}

// fragments splits a text message into fragments of n bytes.
func fragments(msg []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(msg); i += n {
		op := byte(opContinuation)
		if i == 0 {
			op = opText
		}
		out = append(out, clientFrame(i+n >= len(msg), 0, op, msg[i:min(i+n, len(msg))], -1))
	}
	return out
}

// splitAt sends a text message as two fragments split at byte i.
func splitAt(msg []byte, i int) [][]byte {
	return [][]byte{clientFrame(false, 0, opText, msg[:i], -1), clientFrame(true, 0, opContinuation, msg[i:], -1)}
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// settledHeapGrowth returns how much the live heap has grown since before,
// measured until it is within limit or three seconds have passed: what the
// server allocates while a measuring collection runs counts as live in it,
// and servers still working through earlier input allocate, but memory a
// test's clients make the server hold stays while they are connected.
func settledHeapGrowth(before uint64, limit int64) int64 {
	deadline := time.Now().Add(3 * time.Second)
	for {
		grown := int64(heapInUse()) - int64(before)
		if grown <= limit || time.Now().After(deadline) {
			return grown
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStalledFrameHeadersHoldNoMemory: clients that announce large frames
// and stall must not make the server allocate what they announced.
func TestStalledFrameHeadersHoldNoMemory(t *testing.T) {
	srv := startServer(t, Config{})
	before := heapInUse()
	var conns []*wsRaw
	for range 100 {
		c := dialWS(t, srv.Addr(), nil)
		c.write(clientFrame(true, 0, opText, nil, 10<<20)) // the header of a 10 MB frame, then nothing
		conns = append(conns, c)
	}
	// let every reader reach its stall
	probe := dialWS(t, srv.Addr(), nil)
	time.Sleep(200 * time.Millisecond)
	probe.text(describeRequest)
	probe.expectDescribe()
	grown := settledHeapGrowth(before, 16<<20)
	if grown > 16<<20 {
		t.Fatalf("100 stalled 10 MB frame headers grew the heap by %d MB", grown>>20)
	}
	t.Logf("100 stalled 10 MB frame headers: heap %+d KB", grown>>10)
	runtime.KeepAlive(conns)
}

// TestUnfinishedMessagesShareABudget: the bytes held in unfinished messages
// across connections are bounded; the connection that would pass the bound
// is closed and the others keep being served.
func TestUnfinishedMessagesShareABudget(t *testing.T) {
	srv := startServer(t, Config{MaxUnfinished: 2 << 20})
	// a: a 1 MB set, 900 KB sent
	setFrame := func(size int) []byte {
		body := `{"action":"set","eventId":7,"path":"/big","data":{"v":"` + strings.Repeat("x", size) + `"},"options":{}}`
		return clientFrame(true, 0, opText, []byte(body), -1)
	}
	fa := setFrame(1 << 20)
	a := dialWS(t, srv.Addr(), nil)
	a.write(fa[:900<<10])
	waitUntil(t, "a's message to be held", func() bool { return srv.unfinished.inUse() > 0 })
	// b: 1.2 MB of a 1.5 MB message: over the budget
	fb := setFrame(1500 << 10)
	b := dialWS(t, srv.Addr(), nil)
	b.write(fb[:1200<<10])
	b.expectClose(closeTryAgainLater)
	// a completes and is answered
	a.write(fa[900<<10:])
	if got := a.expectText(); !strings.Contains(got, `"status":"ok"`) {
		t.Fatalf("a: %s", got[:min(len(got), 200)])
	}
	waitUntil(t, "the budget to be given back", func() bool { return srv.unfinished.inUse() == 0 })
	c := dialWS(t, srv.Addr(), nil)
	c.text(describeRequest)
	c.expectDescribe()
}

// TestStalledMessageIsDisconnected: a client that stops in the middle of a
// message is closed after FrameTimeout; one that is idle between messages
// is not.
func TestStalledMessageIsDisconnected(t *testing.T) {
	srv := startServer(t, Config{FrameTimeout: 200 * time.Millisecond})
	idle := dialWS(t, srv.Addr(), nil)
	stalled := dialWS(t, srv.Addr(), nil)
	frame := clientFrame(true, 0, opText, []byte(describeRequest), -1)
	stalled.write(frame[:len(frame)-5])
	stalled.expectClose(closePolicyViolation)

	half := dialWS(t, srv.Addr(), nil)
	half.write(frame[:1]) // one byte of a header
	half.expectClose(closePolicyViolation)

	time.Sleep(400 * time.Millisecond) // twice the frame timeout, between messages
	idle.text(describeRequest)
	idle.expectDescribe()
}

// TestStalledHandshakeIsDisconnected: an HTTP request (or websocket
// upgrade) whose headers stop coming is closed after HandshakeTimeout.
func TestStalledHandshakeIsDisconnected(t *testing.T) {
	srv := startServer(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /primus HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a stalled handshake was kept open")
	}
}

// TestPingFloodFromNonReadingClient: pongs to a client that never reads
// must not pile up in the server.
func TestPingFloodFromNonReadingClient(t *testing.T) {
	srv := startServer(t, Config{})
	flood := dialWS(t, srv.Addr(), nil)
	if tc, ok := flood.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	before := heapInUse()
	ping := clientFrame(true, 0, opPing, bytes.Repeat([]byte{'p'}, 125), -1)
	batch := bytes.Repeat(ping, 1000)
	// 200 000 pings, 26 MB; the server may stop reading a client that
	// does not read its pongs (its socket buffers fill): then stop early
	_ = flood.conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
	sent := 0
	for range 200 {
		if _, err := flood.conn.Write(batch); err != nil {
			break
		}
		sent += 1000
	}
	other := dialWS(t, srv.Addr(), nil)
	other.text(describeRequest)
	other.expectDescribe()
	grown := settledHeapGrowth(before, 4<<20)
	if grown > 4<<20 {
		t.Fatalf("a ping flood from a client that does not read grew the heap by %d KB", grown>>10)
	}
	t.Logf("%d pings from a non-reading client: heap %+d KB", sent, grown>>10)
}

// TestCookieWebsocketFromForeignOrigin: a handshake carrying the session
// cookie is refused from a foreign origin unless allowed; without the
// cookie any origin may connect.
func TestCookieWebsocketFromForeignOrigin(t *testing.T) {
	srv := secureServer(t, Config{AllowedOrigins: []string{"https://trusted.example"}})
	cookie := "happn_token=eyJhbGciOiJIUzI1NiJ9.e30.x"
	for _, tc := range []struct {
		origin, cookie string
		want           int
	}{
		{"https://evil.example", cookie, http.StatusForbidden},
		{"https://evil.example", "", http.StatusSwitchingProtocols},
		{"https://trusted.example", cookie, http.StatusSwitchingProtocols},
		{"http://127.0.0.1:9999", cookie, http.StatusSwitchingProtocols}, // same host, other port
		{"", cookie, http.StatusSwitchingProtocols},                      // not a browser
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		if tc.cookie != "" {
			h.Set("Cookie", tc.cookie)
		}
		_, resp := dialWSResponse(t, srv.Addr(), h)
		if resp.StatusCode != tc.want {
			t.Errorf("origin %q cookie %v: status %d, want %d", tc.origin, tc.cookie != "", resp.StatusCode, tc.want)
		}
	}
}

// TestSmallFragmentsCostLinearCopying: a message sent in many small
// fragments is read with copying linear in its size; growing the buffer
// to each fragment's end copied everything received at every fragment,
// seconds of CPU for a megabyte sent 64 bytes at a time.
func TestSmallFragmentsCostLinearCopying(t *testing.T) {
	const size, fragment = 1 << 20, 64
	payload := bytes.Repeat([]byte{'a'}, size)
	var input []byte
	for i := 0; i < size; i += fragment {
		op := byte(opContinuation)
		if i == 0 {
			op = opText
		}
		input = append(input, clientFrame(i+fragment >= size, 0, op, payload[i:i+fragment], -1)...)
	}
	c := newWSConn(&byteConn{r: bytes.NewReader(input)}, bufio.NewReader(bytes.NewReader(input)),
		readLimits{maxLength: 10 << 20, budget: &byteBudget{limit: 64 << 20}}, 1<<20, time.Second)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var msg []byte
	if err := c.readMessage(&msg); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if !bytes.Equal(msg, payload) {
		t.Fatalf("read %d bytes, not the message sent", len(msg))
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8*size {
		t.Fatalf("reading a %d KB message in %d-byte fragments allocated %d MB", size>>10, fragment, allocated>>20)
	}
}
