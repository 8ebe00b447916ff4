package happner_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
)

// quotaError is a component's own error type: its name and fields reach
// callers through ErrorNamer and ErrorFielder.
type quotaError struct {
	Used, Limit int
}

func (e *quotaError) Error() string     { return fmt.Sprintf("quota exceeded: %d of %d", e.Used, e.Limit) }
func (e *quotaError) ErrorName() string { return "QuotaError" }
func (e *quotaError) ErrorFields() map[string]any {
	// name and message cannot be replaced through the fields
	return map[string]any{"used": e.Used, "limit": e.Limit, "name": "Other", "message": "other"}
}

// onlyNamed has a name and no fields.
type onlyNamed struct{}

func (onlyNamed) Error() string     { return "named only" }
func (onlyNamed) ErrorName() string { return "NamedError" }

type quota struct{}

// Use fails with a wrapped quotaError.
func (quota) Use() error { return fmt.Errorf("use: %w", &quotaError{Used: 11, Limit: 10}) }

// Named fails with onlyNamed.
func (quota) Named() error { return onlyNamed{} }

// Plain fails with an error of no particular type.
func (quota) Plain() error { return errors.New("plain failure") }

// A component's own error types keep their name and fields for callers
// over the wire (meshclient) and in the raw reply the npm clients read;
// callers in the process get the error itself. In Go, Error() is the
// message alone.
func TestCustomErrorTypes(t *testing.T) {
	cfg := happner.Config{
		Name: "testMesh", Logger: quietLogger(),
		Happn:      happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules:    map[string]happner.ModuleConfig{"quota": {Instance: quota{}}},
		Components: map[string]happner.ComponentConfig{"quota": {}},
	}
	m := startMesh(t, cfg)
	ctx := tctx(t)
	mc := login(t, m, meshclient.Options{})
	cases := []struct {
		method, name, message string
		fields                map[string]any
		wire                  string
	}{
		{"use", "QuotaError", "use: quota exceeded: 11 of 10", map[string]any{"used": 11, "limit": 10},
			`{"status":"error","args":[{"limit":10,"message":"use: quota exceeded: 11 of 10","name":"QuotaError","used":11}]}`},
		{"named", "NamedError", "named only", nil,
			`{"status":"error","args":[{"message":"named only","name":"NamedError"}]}`},
		{"plain", "Error", "plain failure", nil,
			`{"status":"error","args":[{"message":"plain failure","name":"Error"}]}`},
	}
	hc, err := client.New(ctx, client.Options{URL: "http://" + m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	for _, c := range cases {
		// in the process the method's own error arrives as it is
		local := m.Exchange().Call(ctx, "quota", c.method, nil)
		var namer happner.ErrorNamer
		if local == nil || local.Error() != c.message || errors.As(local, &namer) != (c.name != "Error") {
			t.Errorf("local %s: %#v", c.method, local)
		} else if namer != nil && namer.ErrorName() != c.name {
			t.Errorf("local %s: named %s, want %s", c.method, namer.ErrorName(), c.name)
		}
		// over the wire it is an *Error with the same name and fields
		err := mc.Call(ctx, "quota", c.method, nil)
		var he *happner.Error
		if !errors.As(err, &he) || he.Name != c.name || he.Message != c.message || err.Error() != c.message {
			t.Errorf("meshclient %s: %#v, want %s %q", c.method, err, c.name, c.message)
			continue
		}
		if !errors.As(err, &namer) || namer.ErrorName() != c.name {
			t.Errorf("meshclient %s: not an ErrorNamer named %s", c.method, c.name)
		}
		if len(he.Fields) != len(c.fields) {
			t.Errorf("meshclient %s: fields %v, want %v", c.method, he.Fields, c.fields)
		}
		for k, v := range c.fields {
			if fmt.Sprint(he.Fields[k]) != fmt.Sprint(v) {
				t.Errorf("meshclient %s: field %s = %v, want %v", c.method, k, he.Fields[k], v)
			}
		}
		if got := rawCall(t, hc, "/_exchange/requests/testMesh/quota/"+c.method, map[string]any{"args": []int{}}); got != c.wire {
			t.Errorf("%s on the wire:\n got %s\nwant %s", c.method, got, c.wire)
		}
		if err := hc.OffPath(ctx, "/_exchange/responses/*"); err != nil {
			t.Fatal(err)
		}
	}
	// an *Error is an ErrorNamer and an ErrorFielder too
	var e error = happner.NewError("", "no name").With("k", 1)
	if n, ok := e.(happner.ErrorNamer); !ok || n.ErrorName() != "Error" || e.Error() != "no name" {
		t.Error("*Error as an ErrorNamer")
	}
	if f, ok := e.(happner.ErrorFielder); !ok || f.ErrorFields()["k"] != 1 {
		t.Error("*Error as an ErrorFielder")
	}
	if e := happner.NewError("OnlyName", ""); e.Error() != "OnlyName" {
		t.Errorf("an error without a message: %q", e.Error())
	}
}
