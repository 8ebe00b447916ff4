package happner

import (
	"context"
	"encoding/json"
	"fmt"
)

// Exchange calls methods of the mesh's components. Calls to components of
// this mesh go direct, without the wire, through the same checks a remote
// call gets.
type Exchange struct {
	mesh   *Mesh
	origin *Origin    // bound identity; nil: the mesh's own
	from   *component // the calling component; nil: the mesh itself
}

// CallOptions is a declarative call: happner's exchange.$call.
type CallOptions struct {
	// Mesh is the mesh (domain) to call; empty or this mesh's name or
	// domain means this mesh.
	Mesh string
	// Component and Method name the method.
	Component string
	Method    string
	// Arguments are the call's arguments.
	Arguments []any
	// As runs the call as this user (secure meshes).
	As string
	// Version, when set, is a semver range the component must satisfy.
	Version string
}

// Call calls component.method with args and stores the results, in order,
// into the pointers in out (extra results are dropped, missing ones leave
// their destination untouched). The method's own error is returned as it
// is; a call that could not be made returns an *Error.
func (x *Exchange) Call(ctx context.Context, component, method string, args []any, out ...any) error {
	return x.Do(ctx, CallOptions{Component: component, Method: method, Arguments: args}, out...)
}

// Do performs a declarative call (exchange.$call) and stores the results
// into out like Call.
func (x *Exchange) Do(ctx context.Context, o CallOptions, out ...any) error {
	results, err := x.do(ctx, o)
	if err != nil {
		return err
	}
	for i, dst := range out {
		if i >= len(results) {
			break
		}
		if err := assignResult(dst, results[i]); err != nil {
			return err
		}
	}
	return nil
}

// Results calls component.method and returns its results as Go values.
func (x *Exchange) Results(ctx context.Context, component, method string, args ...any) ([]any, error) {
	return x.do(ctx, CallOptions{Component: component, Method: method, Arguments: args})
}

func (x *Exchange) do(ctx context.Context, o CallOptions) ([]any, error) {
	m := x.mesh
	if o.Mesh != "" && o.Mesh != m.name && o.Mesh != m.domain {
		return nil, NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] mesh does not exist on the api", o.Mesh))
	}
	c := m.component(o.Component)
	rng := o.Version
	if rng == "" && x.from != nil {
		rng = x.from.deps.Range(o.Component)
	}
	if m.wantsRemote(c, rng) {
		return x.remoteCall(ctx, o, rng)
	}
	if c == nil {
		if o.Mesh != "" {
			return nil, NewError("Error", fmt.Sprintf("invalid endpoint options: [%s.%s] component does not exist on the api", o.Mesh, o.Component))
		}
		return nil, NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] component does not exist on the api", o.Component))
	}
	if _, ok := c.methods[o.Method]; !ok {
		return nil, NewError("Error", fmt.Sprintf("invalid endpoint options: [%s.%s] method does not exist on the api", o.Component, o.Method))
	}
	origin := x.origin
	if o.As != "" {
		origin = &Origin{Username: o.As, Override: true}
	}
	if origin == nil {
		origin = m.adminOrigin()
	} else if err := m.authorizeCall(ctx, c.name, o.Method, origin); err != nil {
		// A bound or "as" call is checked like a remote one.
		return nil, toWireError(err)
	}
	res := m.operate(ctx, c, o.Method, goArgs(o.Arguments), origin, o.Version)
	if res.failed != nil {
		return nil, res.failed
	}
	if res.err != nil {
		return nil, res.err
	}
	return res.results, nil
}

// Version returns the version of a component of this mesh
// (exchange.<component>.__version).
func (x *Exchange) Version(component string) (string, bool) {
	c := x.mesh.component(component)
	if c == nil {
		return "", false
	}
	return c.version, true
}

// Call calls component.method through x and returns its first result as a
// T (decoded through JSON when the types differ).
func Call[T any](ctx context.Context, x *Exchange, component, method string, args ...any) (T, error) {
	var out T
	err := x.Call(ctx, component, method, args, &out)
	return out, err
}

// encodeReply renders a call's outcome as the reply payload happner
// publishes to the caller's callbackAddress.
func encodeReply(res callResult) []byte {
	switch {
	case res.failed != nil:
		return errorReply("failed", res.failed)
	case res.err != nil:
		return errorReply("error", res.err)
	}
	b := make([]byte, 0, 64)
	b = append(b, `{"status":"ok","args":[null`...)
	for _, r := range res.results {
		rb, err := json.Marshal(r)
		if err != nil {
			return errorReply("error", fmt.Errorf("cannot encode result: %w", err))
		}
		b = append(b, ',')
		b = append(b, rb...)
	}
	return append(b, "]}"...)
}

func errorReply(status string, err error) []byte {
	eb, mErr := json.Marshal(toWireError(err))
	if mErr != nil {
		eb, _ = json.Marshal(NewError("Error", err.Error()))
	}
	b := make([]byte, 0, len(eb)+32)
	b = append(b, `{"status":"`...)
	b = append(b, status...)
	b = append(b, `","args":[`...)
	b = append(b, eb...)
	return append(b, "]}"...)
}
