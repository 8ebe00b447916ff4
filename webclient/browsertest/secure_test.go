package browsertest

import (
	"context"
	"net/url"
	"reflect"
	"testing"

	"github.com/happner-go/happner/happn/client"
)

func TestMeshClientSecure(t *testing.T) {
	m := startMesh(t, meshOptions{secure: true})
	p := openPage(t, "http://"+m.Addr()+"/page")

	// a wrong password is denied, with login/deny
	var denied map[string]any
	p.eval(`
		const c = new MeshClient({port: Number(location.port)});
		let deny = null;
		c.on('login/deny', (e) => (deny = e.name));
		const e = await c.login({username: 'alice', password: 'wrong'}).catch((e) => e);
		return {name: e.name, message: e.message, code: e.code, deny};
	`, &denied)
	if !reflect.DeepEqual(denied, map[string]any{"name": "AccessDenied", "message": "Invalid credentials", "code": 401.0, "deny": "AccessDenied"}) {
		t.Errorf("bad password: %v", denied)
	}

	// alice logs in with her password: allowed calls work, others are refused
	var got map[string]any
	p.eval(`
		window.client = new MeshClient();
		await client.login({username: 'alice', password: 'alicepw'});
		const refused = await client.exchange.calc.divmod(4, 2).catch((e) => e);
		window.events = [];
		await client.event.emitter.on('allowed/*', (data) => events.push(data.v));
		const deniedEvent = await client.event.emitter.on('secret/*', () => {}).catch((e) => e);
		await client.exchange.emitter.fire('allowed/one', 7);
		return {
			add: await client.exchange.calc.add(20, 22),
			refused: refused.toString(),
			deniedEvent: deniedEvent.toString(),
			user: client.data.session.user.username,
			hasToken: typeof client.token === 'string' && client.token.length > 20,
			cookie: document.cookie.indexOf('happn_token=' + client.token) >= 0,
		};
	`, &got)
	want := map[string]any{
		"add": 42.0, "refused": "AccessDenied: unauthorized", "deniedEvent": "AccessDenied: unauthorized",
		"user": "alice", "hasToken": true, "cookie": true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	p.waitFor("the permitted event", `return events.length === 1 && events[0] === 7;`)

	// a second client logs in with the first one's token
	var viaToken map[string]any
	p.eval(`
		window.second = new MeshClient();
		await second.login({token: client.token});
		window.secondLog = [];
		for (const e of ['session/ended', 'connection/ended', 'reconnect/scheduled']) second.on(e, (d) => secondLog.push(d && d.reason ? e + ':' + d.reason : e));
		return {user: second.data.session.user.username, add: await second.exchange.calc.add(1, 1)};
	`, &viaToken)
	if !reflect.DeepEqual(viaToken, map[string]any{"user": "alice", "add": 2.0}) {
		t.Errorf("token login: %v", viaToken)
	}

	// logout revokes the token: the server ends the second client's session
	// (session/ended, no reconnection) and a login with the token is refused
	var afterLogout string
	p.eval(`
		const token = client.token;
		await client.logout();
		const e = await new MeshClient().login({token}).catch((e) => e);
		return e.name;
	`, &afterLogout)
	if afterLogout != "AccessDenied" {
		t.Errorf("login with a revoked token: %q, want AccessDenied", afterLogout)
	}
	p.waitFor("the second client's session to end", `return secondLog.length >= 2;`)
	var secondLog []string
	p.eval(`await new Promise((r) => setTimeout(r, 200)); return secondLog;`, &secondLog)
	if !reflect.DeepEqual(secondLog, []string{"session/ended:token-revoked", "connection/ended"}) {
		t.Errorf("second client saw %v", secondLog)
	}
}

// A page whose session cookie the server set logs in with useCookie.
func TestMeshClientCookieLogin(t *testing.T) {
	m := startMesh(t, meshOptions{secure: true})
	ctx := context.Background()
	// a server-side login (here: the Go client) makes the token
	c, err := client.New(ctx, client.Options{URL: "http://" + m.Addr(), Username: "alice", Password: "alicepw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	token := c.Session().Token
	p := openPage(t, "http://"+m.Addr()+"/cookie-page?token="+url.QueryEscape(token))

	var got map[string]any
	p.eval(`
		const c = new MeshClient();
		await c.login({useCookie: true});
		const r = {user: c.data.session.user.username, add: await c.exchange.calc.add(3, 4), sameToken: c.token === `+jsString(token)+`};
		await c.disconnect({deleteCookie: true});
		r.cookieLeft = document.cookie.indexOf('happn_token=ey') >= 0;
		r.denied = (await new MeshClient().login({useCookie: true}).catch((e) => e)).message;
		return r;
	`, &got)
	want := map[string]any{"user": "alice", "add": 7.0, "sameToken": true, "cookieLeft": false,
		"denied": "happn server is secure, please specify a username or token"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
