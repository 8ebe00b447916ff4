package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
)

// opFlags are the flags of the operator commands.
type opFlags struct {
	url          string
	username     string
	passwordFile string
	timeout      time.Duration
}

// credentials returns the username and password to log in with: none
// when no password is given (an insecure node).
func (f *opFlags) credentials() (string, string, error) {
	pw := os.Getenv(EnvPassword)
	if f.passwordFile != "" {
		var err error
		if pw, err = readSecret(f.passwordFile, "--password-file"); err != nil {
			return "", "", err
		}
	}
	if pw == "" {
		return "", "", nil
	}
	return f.username, pw, nil
}

// connect logs in to the node with the happn client; onEvent (may be
// nil) receives its connection events.
func (f *opFlags) connect(ctx context.Context, onEvent ...func(client.ConnectionEvent)) (*client.Client, error) {
	if err := f.checkURL(); err != nil {
		return nil, err
	}
	user, pw, err := f.credentials()
	if err != nil {
		return nil, err
	}
	opts := client.Options{
		URL: f.url, Username: user, Password: pw,
		CallTimeout: f.timeout, ConnectTimeout: f.timeout, Reconnect: client.Reconnect{Disabled: true},
	}
	if len(onEvent) > 0 {
		opts.OnConnectionEvent = onEvent[0]
	}
	c, err := client.New(ctx, opts)
	if err != nil {
		if pw == "" && loginRefused(err) {
			return nil, fmt.Errorf("%s: %w (set %s or --password-file)", f.url, err, EnvPassword)
		}
		return nil, fmt.Errorf("%s: %w", f.url, err)
	}
	return c, nil
}

// checkURL refuses a --url the client cannot connect to (no scheme, no
// host) as a usage error.
func (f *opFlags) checkURL() error {
	u, err := url.Parse(f.url)
	if err == nil {
		switch strings.ToLower(u.Scheme) {
		case "http", "https", "ws", "wss":
			if u.Host != "" {
				return nil
			}
		}
	}
	return usage("--url %q: want http://HOST:PORT or https://HOST:PORT", f.url)
}

// loginRefused reports whether err is the server refusing the login
// (AccessDenied, or a secure server asking for credentials), rather than
// a connection that failed.
func loginRefused(err error) bool {
	var se *client.ServerError
	if errors.As(err, &se) {
		return se.Name == "AccessDenied" || se.Code == http.StatusUnauthorized
	}
	// the client's own error when the server says it is secure and no
	// password was given; it has no error value of its own to match
	return strings.Contains(err.Error(), "the server is secure")
}

// operatorCommands are the commands against a running node.
func (e *env) operatorCommands() []*cobra.Command {
	var f opFlags
	cmds := []*cobra.Command{
		{
			Use:   "get PATH",
			Short: "Print the item at PATH (a list for a wildcard path)",
			Args:  exactArgs(1),
			RunE:  e.run(func(cmd *cobra.Command, args []string) error { return e.get(cmd.Context(), &f, args[0]) }),
		},
		e.setCommand(&f),
		{
			Use:   "remove PATH",
			Short: "Remove the items at PATH and print how many were removed",
			Args:  exactArgs(1),
			RunE:  e.run(func(cmd *cobra.Command, args []string) error { return e.remove(cmd.Context(), &f, args[0]) }),
		},
		e.onCommand(&f),
		{
			Use:   "call COMPONENT METHOD [JSON ARGS...]",
			Short: "Call a component's method and print its result",
			Long: `Call a component's method with arguments given as JSON values (quote strings: '"pear"')
and print its result: the value, null, or a list when the method gives several.`,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) < 2 {
					return usage("%s needs COMPONENT METHOD [JSON ARGS...]", cmd.CommandPath())
				}
				return nil
			},
			RunE: e.run(func(cmd *cobra.Command, args []string) error { return e.call(cmd.Context(), &f, args) }),
		},
		{
			Use:   "describe",
			Short: "Print the mesh description (components, methods, versions)",
			Args:  noArgs,
			RunE:  e.run(func(cmd *cobra.Command, _ []string) error { return e.describe(cmd.Context(), &f) }),
		},
		{
			Use:   "members",
			Short: "Print a cluster member's view of the cluster",
			Long: `Print the members a cluster member sees: name, service, status, address, whether it is
connected to them, and their components with versions (from /cluster/health).`,
			Args: noArgs,
			RunE: e.run(func(cmd *cobra.Command, _ []string) error { return e.members(cmd.Context(), &f) }),
		},
	}
	for _, c := range cmds {
		fl := c.Flags()
		fl.StringVar(&f.url, "url", client.DefaultURL, "the node's URL")
		fl.StringVar(&f.username, "username", "_ADMIN", "user to log in as (when a password is given)")
		fl.StringVar(&f.passwordFile, "password-file", "", "read the password from this file (default: "+EnvPassword+"; none: no login)")
		fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound on connecting and on each request")
	}
	return cmds
}

// exactArgs requires n positional arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usage("%s takes %d argument(s), got %d: usage: %s", cmd.CommandPath(), n, len(args), cmd.UseLine())
		}
		return nil
	}
}

// printJSON writes v indented.
func (e *env) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// printRaw writes a JSON value indented.
func (e *env) printRaw(raw json.RawMessage) error {
	var buf bytes.Buffer
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := e.stdout.Write(buf.Bytes())
	return err
}

// withMeta returns an item as happn clients see it: the data with _meta.
func withMeta(it client.Item) json.RawMessage {
	meta, _ := json.Marshal(it.Meta)
	var obj map[string]json.RawMessage
	if json.Unmarshal(it.Data, &obj) != nil || obj == nil {
		obj = map[string]json.RawMessage{"value": it.Data}
	}
	obj["_meta"] = meta
	b, _ := json.Marshal(obj)
	return b
}

func (e *env) get(ctx context.Context, f *opFlags, path string) error {
	c, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	if !res.List {
		if it := res.One(); it != nil {
			return e.printRaw(withMeta(*it))
		}
		return e.printRaw(nil)
	}
	items := make([]json.RawMessage, len(res.Items))
	for i, it := range res.Items {
		items[i] = withMeta(it)
	}
	return e.printJSON(items)
}

func (e *env) setCommand(f *opFlags) *cobra.Command {
	var merge bool
	cmd := &cobra.Command{
		Use:   "set PATH JSON",
		Short: "Store a JSON value at PATH and print the stored item",
		Args:  exactArgs(2),
		RunE: e.run(func(cmd *cobra.Command, args []string) error {
			if !json.Valid([]byte(args[1])) {
				return usage("set: %q is not JSON (quote strings: '\"text\"')", args[1])
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var opts []client.Option
			if merge {
				opts = append(opts, client.Merge())
			}
			it, err := c.Set(cmd.Context(), args[0], json.RawMessage(args[1]), opts...)
			if err != nil {
				return err
			}
			return e.printRaw(withMeta(*it))
		}),
	}
	cmd.Flags().BoolVar(&merge, "merge", false, "merge the value's keys into the stored object instead of replacing it")
	return cmd
}

func (e *env) remove(ctx context.Context, f *opFlags, path string) error {
	c, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.Remove(ctx, path)
	if err != nil {
		return err
	}
	return e.printJSON(map[string]int{"removed": n})
}

func (e *env) onCommand(f *opFlags) *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "on PATTERN",
		Short: "Print the events on PATTERN as JSON lines until interrupted (or --count N)",
		Args:  exactArgs(1),
		RunE:  e.run(func(cmd *cobra.Command, args []string) error { return e.on(cmd.Context(), f, args[0], count) }),
	}
	cmd.Flags().IntVar(&count, "count", 0, "stop after N events (0: until interrupted)")
	return cmd
}

// eventLine is one event as "on" prints it.
type eventLine struct {
	Path   string           `json:"path"`
	Action string           `json:"action"`
	Data   json.RawMessage  `json:"data"`
	Meta   client.EventMeta `json:"_meta"`
}

func (e *env) on(ctx context.Context, f *opFlags, pattern string, count int) error {
	lost := make(chan string, 1)
	c, err := f.connect(ctx, func(ev client.ConnectionEvent) {
		switch ev.Type {
		case client.EventConnectionEnded, client.EventSessionEnded:
			select {
			case lost <- string(ev.Type) + " " + ev.Reason:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	defer c.Close()
	events := make(chan eventLine, 1024)
	done := make(chan struct{})
	defer close(done) // before Close: a handler waiting to hand over an event gives up
	if _, err := c.On(ctx, pattern, client.OnOptions{}, func(ev client.Event) {
		action, _, _ := strings.Cut(strings.TrimPrefix(ev.Meta.Action, "/"), "@")
		select {
		case events <- eventLine{Path: ev.Meta.Path, Action: strings.ToLower(action), Data: ev.Data, Meta: ev.Meta}:
		case <-done:
		}
	}); err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for seen := 0; count <= 0 || seen < count; seen++ {
		select {
		case <-ctx.Done():
			return nil
		case why := <-lost:
			return fmt.Errorf("%s: connection lost (%s)", f.url, strings.TrimSpace(why))
		case ev := <-events:
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// meshLogin checks that the node is a mesh, then logs in with the Go
// MeshClient.
func (f *opFlags) meshLogin(ctx context.Context) (*meshclient.Client, error) {
	c, err := f.connect(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Get(ctx, happner.DescriptionPath)
	_ = c.Close()
	if err != nil {
		return nil, err
	}
	if res.One() == nil {
		return nil, fmt.Errorf("%s is not a mesh (it has no %s): a plain happn server has no components", f.url, happner.DescriptionPath)
	}
	user, pw, err := f.credentials()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	mc, err := meshclient.Login(ctx, meshclient.Options{URL: f.url, Username: user, Password: pw,
		Reconnect: client.Reconnect{Disabled: true}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.url, err)
	}
	return mc, nil
}

func (e *env) call(ctx context.Context, f *opFlags, args []string) error {
	component, method := args[0], args[1]
	params := make([]any, 0, len(args)-2)
	for i, a := range args[2:] {
		if !json.Valid([]byte(a)) {
			return usage("call: argument %d %q is not JSON (quote strings: '\"text\"')", i+1, a)
		}
		params = append(params, json.RawMessage(a))
	}
	mc, err := f.meshLogin(ctx)
	if err != nil {
		return err
	}
	defer mc.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	results, err := mc.Results(ctx, component, method, params...)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", component, method, namedError{err})
	}
	switch len(results) {
	case 0:
		return e.printRaw(nil)
	case 1:
		return e.printRaw(results[0])
	}
	return e.printJSON(results)
}

// namedError prints a component's or the server's error with its name,
// "Name: message", as get and set print the server's errors.
type namedError struct{ err error }

func (e namedError) Error() string {
	var he *happner.Error
	msg := e.err.Error()
	if errors.As(e.err, &he) && he.Message != "" && strings.HasSuffix(msg, he.Message) {
		return strings.TrimSuffix(msg, he.Message) + he.ErrorName() + ": " + he.Message
	}
	return msg
}

func (e namedError) Unwrap() error { return e.err }

func (e *env) describe(ctx context.Context, f *opFlags) error {
	mc, err := f.meshLogin(ctx)
	if err != nil {
		return err
	}
	defer mc.Close()
	return e.printJSON(mc.Description())
}

func (e *env) members(ctx context.Context, f *opFlags) error {
	c, err := f.connect(ctx)
	if err != nil {
		return err
	}
	token := c.Session().Token
	_ = c.Close()
	u, err := url.Parse(f.url)
	if err != nil {
		return usage("--url: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = "/cluster/health"
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusServiceUnavailable:
	case http.StatusNotFound:
		return fmt.Errorf("%s is not a cluster member (no /cluster/health)", f.url)
	default:
		return fmt.Errorf("%s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	var h struct {
		Cluster json.RawMessage `json:"cluster"`
	}
	if err := json.Unmarshal(body, &h); err != nil || len(h.Cluster) == 0 {
		return errors.Join(fmt.Errorf("%s: unexpected answer %q", u, truncate(string(body), 200)), err)
	}
	return e.printRaw(h.Cluster)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
