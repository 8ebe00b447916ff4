package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

const happnFileWithTypos = `{
  "host": "127.0.0.1",
  "port": 0,
  "prot": 55000,
  "services": {
    "sesion": {"config": {}},
    "session": {"config": {"primusOpts": {"pingInterval": 60e3}}}
  }
}`

func TestUnknownKeysWarnOncePerKey(t *testing.T) {
	path := writeFile(t, "happn.json", happnFileWithTypos)
	n := startNode(t, "serve", "--config", path)
	logs := n.errOut.String()
	for _, want := range []string{
		"config: unknown key prot (did you mean port?) at " + path + ":4:3",
		"config: unknown key services.sesion (did you mean services.session?) at " + path + ":6:5",
	} {
		if c := strings.Count(logs, want); c != 1 {
			t.Errorf("%q logged %d times in:\n%s", want, c, logs)
		}
	}
	if c := strings.Count(logs, "config: "); c != 2 {
		t.Errorf("%d config lines in:\n%s", c, logs)
	}
}

func TestStrictRefusesKeysThatDoNothing(t *testing.T) {
	path := writeFile(t, "happn.json", happnFileWithTypos)
	r := run(t, "serve", "--config", path, "--strict")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "2 config key(s) not used, refused in strict mode") || r.stdout != "" {
		t.Fatalf("--strict: %+v", r)
	}
	t.Setenv(EnvStrict, "1")
	r = run(t, "serve", "--config", path)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "refused in strict mode") || r.stdout != "" {
		t.Fatalf("%s=1: %+v", EnvStrict, r)
	}
}

func TestAFileRunsAsWhatItIs(t *testing.T) {
	member := writeFile(t, "member.yaml", "happn:\n  services:\n    membership:\n      config:\n        deploymentId: x\n")
	r := run(t, "serve", "--config", member)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "is a happner-cluster member config") ||
		!strings.Contains(r.stderr, "run it with `happner member --config "+member+"`") {
		t.Fatalf("serve of a member config: %+v", r)
	}
	happnFile := writeFile(t, "happn.yaml", "port: 0\n")
	r = run(t, "member", "--config", happnFile)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "is a happn server config without happn.services.membership.config: run it with `happner serve --config "+happnFile+"`") {
		t.Fatalf("member of a happn config: %+v", r)
	}
	mesh := writeFile(t, "mesh.yaml", "name: shop\nhappn: {host: 127.0.0.1, port: 0}\nmodules: {calc: {}}\ncomponents: {calc: {}}\n")
	r = run(t, "member", "--config", mesh)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "is a happner (mesh) config without happn.services.membership.config: run it with `happner serve") {
		t.Fatalf("member of a mesh config: %+v", r)
	}
	// serve runs a happner config as a mesh, with the binary's components
	n := startNode(t, "serve", "--config", mesh)
	if n.name != "shop" {
		t.Fatalf("listening line %q", n.out.String())
	}
	if r := run(t, "call", "calc", "add", "2", "3", "--url", n.url); r.code != ExitOK || strings.TrimSpace(r.stdout) != "5" {
		t.Fatalf("call on the mesh: %+v", r)
	}
	// deferListen: nothing else in the process can tell the mesh to
	// listen, so serve does once the components have started
	deferred := writeFile(t, "deferred.yaml", "name: later\ndeferListen: true\nhappn: {host: 127.0.0.1, port: 0}\nmodules: {calc: {}}\ncomponents: {calc: {}}\n")
	n = startNode(t, "serve", "--config", deferred)
	if r := run(t, "call", "calc", "add", "2", "3", "--url", n.url); r.code != ExitOK || strings.TrimSpace(r.stdout) != "5" {
		t.Fatalf("call on a deferListen mesh (%q): %+v", n.out.String(), r)
	}
}

func TestSyntaxAndTypeErrorsArePrintedOnceWithTheirPosition(t *testing.T) {
	bad := writeFile(t, "bad.json", "{\n  \"port\": 0,\n  \"host\" \"127.0.0.1\"\n}\n")
	r := run(t, "serve", "--config", bad)
	want := bad + ":3:10: syntax error: unexpected '\"', expected ':' after the key \"host\""
	if r.code != ExitUsage || strings.Count(r.stderr, want) != 1 || strings.Count(r.stderr, "syntax error") != 1 {
		t.Fatalf("syntax error: %+v", r)
	}
	typed := writeFile(t, "typed.yaml", "happn:\n  services:\n    membership:\n      config:\n        deploymentId: x\n        pulseIntervalMs: often\n")
	r = run(t, "member", "--config", typed)
	want = typed + `:6:26: happn.services.membership.config.pulseIntervalMs: expected a whole number, found the string "often"`
	if r.code != ExitUsage || strings.Count(r.stderr, want) != 1 || strings.Count(r.stderr, "expected") != 1 {
		t.Fatalf("type error: %+v", r)
	}
}

func TestStartErrorIsPrintedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := run(t, "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	if r.code != ExitFailure || strings.Count(r.stderr, "address already in use") != 1 {
		t.Fatalf("port in use: %+v", r)
	}
	mesh := writeFile(t, "mesh.yaml", "happn: {host: 127.0.0.1, port: "+strconv.Itoa(port)+"}\nmodules: {calc: {}}\ncomponents: {calc: {}}\n")
	r = run(t, "serve", "--config", mesh)
	if r.code != ExitFailure || strings.Count(r.stderr, "address already in use") != 1 {
		t.Fatalf("mesh port in use: %+v", r)
	}
}

func TestEnvironmentVariablesInConfigFiles(t *testing.T) {
	t.Setenv("TEST_MESH_NAME", "from-env")
	t.Setenv("TEST_MESH_PORT", "0")
	mesh := writeFile(t, "mesh.yaml", "name: ${TEST_MESH_NAME}\nhappn:\n  host: ${TEST_MESH_HOST:-127.0.0.1}\n  port: ${TEST_MESH_PORT}\n")
	n := startNode(t, "serve", "--config", mesh)
	if n.name != "from-env" || !strings.HasPrefix(n.addr, "127.0.0.1:") {
		t.Fatalf("listening line %q", n.out.String())
	}
	unset := writeFile(t, "unset.json", `{"happn": {"services": {"data": {"config": {"datastores": [{"name": "pg", "provider": "postgres", "settings": {"url": "${HAPPNER_TEST_UNSET_DATABASE_URL}"}}]}}}}}`)
	r := run(t, "serve", "--config", unset)
	if r.code != ExitUsage || !strings.Contains(r.stderr, unset+":1:119: happn.services.data.config.datastores[0].settings.url: environment variable HAPPNER_TEST_UNSET_DATABASE_URL is not set") {
		t.Fatalf("unset variable: %+v", r)
	}
}

func TestAdminPasswordFromEnvironmentOrFile(t *testing.T) {
	// the default password is warned about
	n := startNode(t, "serve", "--secure", "--host", "127.0.0.1", "--port", "0")
	if !strings.Contains(n.errOut.String(), "_ADMIN still has the default password") {
		t.Fatalf("no warning:\n%s", n.errOut.String())
	}
	t.Setenv(EnvPassword, "happn")
	if r := run(t, "get", "/x", "--url", n.url); r.code != ExitOK || strings.TrimSpace(r.stdout) != "null" {
		t.Fatalf("default password: %+v", r)
	}

	t.Setenv(EnvAdminPassword, "from-env-pw")
	n = startNode(t, "serve", "--secure", "--host", "127.0.0.1", "--port", "0")
	if strings.Contains(n.errOut.String(), "default password") {
		t.Fatalf("warned with %s set:\n%s", EnvAdminPassword, n.errOut.String())
	}
	if r := run(t, "get", "/x", "--url", n.url); r.code != ExitFailure || !strings.Contains(r.stderr, "Invalid credentials") {
		t.Fatalf("the default password still works: %+v", r)
	}
	t.Setenv(EnvPassword, "from-env-pw")
	if r := run(t, "get", "/x", "--url", n.url); r.code != ExitOK {
		t.Fatalf("password from %s: %+v", EnvAdminPassword, r)
	}

	// the file wins over the environment, and serves operators too
	pwFile := writeFile(t, "admin-password", "from-file-pw\n")
	n = startNode(t, "serve", "--secure", "--host", "127.0.0.1", "--port", "0", "--admin-password-file", pwFile)
	if r := run(t, "get", "/x", "--url", n.url, "--password-file", pwFile); r.code != ExitOK {
		t.Fatalf("password from --admin-password-file: %+v", r)
	}
	if r := run(t, "get", "/x", "--url", n.url); r.code != ExitFailure {
		t.Fatalf("the environment's password works on a node given a file: %+v", r)
	}
	if r := run(t, "serve", "--admin-password-file", pwFile+".missing"); r.code != ExitUsage || !strings.Contains(r.stderr, "--admin-password-file") {
		t.Fatalf("missing file: %+v", r)
	}
}

func TestMemberOnAWildcardAdvertisesARoutableAddress(t *testing.T) {
	cfg := `happn:
  host: 0.0.0.0
  services:
    proxy: {config: {host: 127.0.0.1}}
    membership:
      config:
        deploymentId: ` + uniqueID(t) + `
        advertiseHost: 127.0.0.1
        pulseIntervalMs: 100
`
	n := startNode(t, "member", "--config", writeFile(t, "member.yaml", cfg))
	r := run(t, "members", "--url", n.url)
	if r.code != ExitOK || !strings.Contains(r.stdout, `"url": "http://127.0.0.1:`) || strings.Contains(r.stdout, "0.0.0.0") {
		t.Fatalf("members: %+v", r)
	}
}

func TestPositionalArgumentsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "extra"}, {"member", "--config", "x.yaml", "extra"}, {"version", "extra"}, {"describe", "x"},
		{"members", "x"}, {"get"}, {"get", "/a", "/b"}, {"set", "/a"}, {"remove"}, {"on"}, {"call", "calc"},
		{"nosuchcommand"},
	} {
		if r := run(t, args...); r.code != ExitUsage || r.stdout != "" {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// TestAllowedOriginsFlag: --allowed-origins lets a foreign page open a
// websocket that carries the session cookie; without it the node refuses.
func TestAllowedOriginsFlag(t *testing.T) {
	handshake := func(addr, origin string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/primus?_primuscb=t", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Origin", origin)
		req.Header.Set("Cookie", "happn_token=x.y.z")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	n := startNode(t, "serve", "--secure", "--host", "127.0.0.1", "--port", "0")
	if code := handshake(n.addr, "https://app.example"); code != http.StatusForbidden {
		t.Fatalf("a foreign origin with the cookie got %d, want 403", code)
	}
	n = startNode(t, "serve", "--secure", "--host", "127.0.0.1", "--port", "0", "--allowed-origins", "https://app.example")
	if code := handshake(n.addr, "https://app.example"); code != http.StatusSwitchingProtocols {
		t.Fatalf("an allowed origin got %d, want 101", code)
	}
	if code := handshake(n.addr, "https://other.example"); code != http.StatusForbidden {
		t.Fatalf("another origin got %d, want 403", code)
	}
}

// TestObservabilityFlagsAndGC: --log-format json writes JSON lines,
// --metrics-addr serves /metrics without a token, and the gc section of the
// file sets the collector (unless GOGC or GOMEMLIMIT say otherwise).
func TestObservabilityFlagsAndGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	oldPct := debug.SetGCPercent(-1)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(oldPct); debug.SetMemoryLimit(oldLimit) })
	debug.SetGCPercent(oldPct)
	file := writeFile(t, "gc.yaml", "port: 0\nhost: 127.0.0.1\nsecure: true\ngc: {percent: 350, memoryLimit: 3GiB}\n")
	n := startNode(t, "serve", "--config", file, "--log-format", "json", "--metrics-addr", "127.0.0.1:0")
	if got := debug.SetGCPercent(-1); got != 350 {
		t.Errorf("GOGC %d, want 350 from the file", got)
	} else {
		debug.SetGCPercent(got)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("GOMEMLIMIT %d, want 3GiB from the file", got)
	}
	var metricsAddr string
	for _, line := range strings.Split(strings.TrimSpace(n.errOut.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if a, ok := rec["addr"].(string); ok && strings.Contains(fmt.Sprint(rec["msg"]), "metrics") {
			metricsAddr = a
		}
	}
	if metricsAddr == "" {
		t.Fatalf("no metrics listener in the log:\n%s", n.errOut.String())
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "happner_build_info") {
		t.Fatalf("/metrics on the metrics listener: %d %.200s", resp.StatusCode, body)
	}
}

// TestTrustedProxiesFlag: --trusted-proxies makes the node believe the
// X-Forwarded-For of those proxies (here the test itself, at 127.0.0.1),
// so a sourceIPWhitelist passes behind them; without it the header is
// ignored. A bad entry stops the node with the entry named.
func TestTrustedProxiesFlag(t *testing.T) {
	file := writeFile(t, "happn.yaml", `host: 127.0.0.1
port: 0
secure: true
services:
  security:
    config:
      profiles:
        - name: lan
          session: {user.username: _ADMIN}
          policy: {sourceIPWhitelist: [10.9.9.9]}
`)
	login := func(addr string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/auth/login?username=_ADMIN&password=happn", nil)
		req.Header.Set("X-Forwarded-For", "10.9.9.9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	n := startNode(t, "serve", "--config", file)
	if code := login(n.addr); code != http.StatusUnauthorized {
		t.Fatalf("X-Forwarded-For without trusted proxies: %d, want 401", code)
	}
	n = startNode(t, "serve", "--config", file, "--trusted-proxies", "127.0.0.0/8,::1")
	if code := login(n.addr); code != http.StatusOK {
		t.Fatalf("X-Forwarded-For from a trusted proxy: %d, want 200", code)
	}
	r := run(t, "serve", "--host", "127.0.0.1", "--port", "0", "--trusted-proxies", "proxy.example")
	if r.code == ExitOK || !strings.Contains(r.stderr, `trustedProxies: "proxy.example" is not an IP address or a CIDR range`) {
		t.Fatalf("bad --trusted-proxies: %+v", r)
	}
	bad := writeFile(t, "bad.yaml", "port: 0\nservices: {session: {config: {trustedProxies: [10.0.0.0/40]}}}\n")
	r = run(t, "serve", "--config", bad)
	if r.code != ExitUsage || !strings.Contains(r.stderr, `services.session.config.trustedProxies: "10.0.0.0/40" is not an IP address or a CIDR range`) {
		t.Fatalf("bad trustedProxies in a file: %+v", r)
	}
}

// jsonLines fails the test unless every line of logs is a JSON record,
// and returns the records' messages.
func jsonLines(t *testing.T, logs string) []string {
	t.Helper()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q in:\n%s", line, logs)
		}
		msgs = append(msgs, fmt.Sprint(rec["msg"]))
	}
	return msgs
}

// TestLogFormatFromTheFileCoversItsWarnings: log.format json in the file
// makes the file's own warnings, and a refused start, JSON records too.
func TestLogFormatFromTheFileCoversItsWarnings(t *testing.T) {
	happnFile := writeFile(t, "happn.yaml", "host: 127.0.0.1\nport: 0\nprot: 1\nlog: {format: json}\n")
	meshFile := writeFile(t, "mesh.yaml", "happn: {host: 127.0.0.1, port: 0, log: {format: json}}\nmodules: {calc: {}}\ncomponents: {calc: {}}\nprot: 1\n")
	for _, file := range []string{happnFile, meshFile} {
		n := startNode(t, "serve", "--config", file)
		if msgs := jsonLines(t, n.errOut.String()); !strings.Contains(strings.Join(msgs, "\n"), "config: unknown key prot") {
			t.Fatalf("%s: no warning in:\n%s", file, n.errOut.String())
		}
		r := run(t, "serve", "--config", file, "--strict")
		msgs := jsonLines(t, r.stderr)
		if r.code != ExitUsage || !strings.Contains(msgs[len(msgs)-1], "refused in strict mode") {
			t.Fatalf("%s --strict: %+v", file, r)
		}
	}
	// the command line wins over the file
	n := startNode(t, "serve", "--config", happnFile, "--log-format", "text")
	if !strings.Contains(n.errOut.String(), "level=WARN msg=\"config: unknown key prot") {
		t.Fatalf("--log-format text:\n%s", n.errOut.String())
	}
}

// TestStoredAdminPasswordIsKept: a secure mesh whose store already holds
// _ADMIN with another password fails to start with a hint saying why.
func TestStoredAdminPasswordIsKept(t *testing.T) {
	mesh := writeFile(t, "mesh.yaml", "happn: {host: 127.0.0.1, port: 0, secure: true, filename: "+t.TempDir()+"/data.db}\nmodules: {calc: {}}\ncomponents: {calc: {}}\n")
	t.Setenv(EnvAdminPassword, "first-pw")
	n := startNode(t, "serve", "--config", mesh)
	if code := n.stop(t); code != ExitOK {
		t.Fatalf("stop: %d\n%s", code, n.errOut.String())
	}
	t.Setenv(EnvAdminPassword, "second-pw")
	r := run(t, "serve", "--config", mesh)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "Invalid credentials") ||
		!strings.Contains(r.stderr, "the store already holds _ADMIN with another password") || !strings.Contains(r.stderr, EnvAdminPassword) {
		t.Fatalf("restart with another admin password: %+v", r)
	}
}

// TestProgramName: a binary built with Main calls itself by its
// executable's name in its help and errors; cmd/happner stays happner.
func TestProgramName(t *testing.T) {
	for arg0, want := range map[string]string{"/usr/local/bin/greetd": "greetd", "happner": "happner", `C:\bin\greetd.exe`: "greetd", "": "happner"} {
		if runtime.GOOS != "windows" && strings.Contains(arg0, `\`) {
			continue
		}
		if got := programName(arg0); got != want {
			t.Errorf("programName(%q) = %q, want %q", arg0, got, want)
		}
	}
	var out, errOut syncBuffer
	if code := RunAs(context.Background(), "greetd", []string{"--help"}, &out, &errOut, nil); code != ExitOK || !strings.Contains(out.String(), "greetd [command]") || strings.Contains(out.String(), "happner [command]") {
		t.Fatalf("--help: %d %s", code, out.String())
	}
	out, errOut = syncBuffer{}, syncBuffer{}
	if code := RunAs(context.Background(), "greetd", []string{"nosuch"}, &out, &errOut, nil); code != ExitUsage || !strings.Contains(errOut.String(), "run 'greetd --help' for usage") || !strings.HasPrefix(errOut.String(), "greetd: ") {
		t.Fatalf("unknown command: %d %s", code, errOut.String())
	}
}

// TestErrorsHaveOnePrefix: an error of the library is printed once
// prefixed, not "happner: happner: …".
func TestErrorsHaveOnePrefix(t *testing.T) {
	mesh := writeFile(t, "mesh.yaml", "happn: {host: 127.0.0.1, port: 0}\nmodules: {calc: {}}\ncomponents: {calc: {stopMethod: zz}}\n")
	r := run(t, "serve", "--config", mesh)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "happner: component \"calc\" has no method \"zz\"") || strings.Contains(r.stderr, "happner: happner:") || r.stdout != "" {
		t.Fatalf("stopMethod zz: %+v", r)
	}
}
