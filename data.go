package happner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/happner-go/happner/happn/client"
)

// Data is a component's data, rooted at /_data/<component>/: every path
// given is relative to that root.
type Data struct {
	mesh   *Mesh
	prefix string
	origin *Origin
}

var errBadPath = errors.New("[bad path]: either empty or not a string")

func (d *Data) path(p string) (string, error) {
	if p == "" {
		return "", errBadPath
	}
	return d.prefix + strings.TrimPrefix(p, "/"), nil
}

func (d *Data) opts(opts []client.Option) []client.Option {
	if d.origin != nil && d.origin.Username != "" {
		return append(opts, client.With("onBehalfOf", d.origin.Username))
	}
	return opts
}

// Set stores data at path.
func (d *Data) Set(ctx context.Context, path string, data any, opts ...client.Option) (*client.Item, error) {
	p, err := d.path(path)
	if err != nil {
		return nil, err
	}
	it, err := d.mesh.admin.Set(ctx, p, data, d.opts(opts)...)
	if err != nil {
		return nil, fmt.Errorf("happner: data set %s: %w", p, err)
	}
	return it, nil
}

// Get reads path (wildcards allowed).
func (d *Data) Get(ctx context.Context, path string, opts ...client.Option) (*client.GetResult, error) {
	p, err := d.path(path)
	if err != nil {
		return nil, err
	}
	r, err := d.mesh.admin.Get(ctx, p, d.opts(opts)...)
	if err != nil {
		return nil, fmt.Errorf("happner: data get %s: %w", p, err)
	}
	return r, nil
}

// GetPaths lists the paths matching path.
func (d *Data) GetPaths(ctx context.Context, path string) ([]string, error) {
	p, err := d.path(path)
	if err != nil {
		return nil, err
	}
	r, err := d.mesh.admin.GetPaths(ctx, p, d.opts(nil)...)
	if err != nil {
		return nil, fmt.Errorf("happner: data getPaths %s: %w", p, err)
	}
	return r, nil
}

// Count counts the items matching path.
func (d *Data) Count(ctx context.Context, path string, opts ...client.Option) (int, error) {
	p, err := d.path(path)
	if err != nil {
		return 0, err
	}
	n, err := d.mesh.admin.Count(ctx, p, d.opts(opts)...)
	if err != nil {
		return 0, fmt.Errorf("happner: data count %s: %w", p, err)
	}
	return n, nil
}

// Remove removes the items matching path and returns how many.
func (d *Data) Remove(ctx context.Context, path string, opts ...client.Option) (int, error) {
	p, err := d.path(path)
	if err != nil {
		return 0, err
	}
	n, err := d.mesh.admin.Remove(ctx, p, d.opts(opts)...)
	if err != nil {
		return 0, fmt.Errorf("happner: data remove %s: %w", p, err)
	}
	return n, nil
}

// Increment adds by to gauge (default "counter") at path.
func (d *Data) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	p, err := d.path(path)
	if err != nil {
		return 0, err
	}
	v, err := d.mesh.admin.Increment(ctx, p, gauge, by, d.opts(nil)...)
	if err != nil {
		return 0, fmt.Errorf("happner: data increment %s: %w", p, err)
	}
	return v, nil
}

// On subscribes handler to changes under path ('*' becomes '**').
func (d *Data) On(ctx context.Context, path string, opts client.OnOptions, handler func(Event)) (int, error) {
	if path == "*" {
		path = "**"
	}
	p, err := d.path(path)
	if err != nil {
		return 0, err
	}
	// A bound subscription is authorised for its user (onBehalfOf).
	if err := d.mesh.authorize(ctx, d.origin, p, "on"); err != nil {
		return 0, toWireError(err)
	}
	id, err := d.mesh.admin.On(ctx, p, opts, handler)
	if err != nil {
		return 0, fmt.Errorf("happner: data on %s: %w", p, err)
	}
	return id, nil
}

// Off removes the subscription with handle id.
func (d *Data) Off(ctx context.Context, id int) error {
	if err := d.mesh.admin.Off(ctx, id); err != nil {
		return fmt.Errorf("happner: data off: %w", err)
	}
	return nil
}

// OffPath removes every subscription on path.
func (d *Data) OffPath(ctx context.Context, path string) error {
	p, err := d.path(path)
	if err != nil {
		return err
	}
	if err := d.mesh.admin.OffPath(ctx, p); err != nil {
		return fmt.Errorf("happner: data offPath %s: %w", p, err)
	}
	return nil
}

// OffAll removes every subscription under the component's data root.
func (d *Data) OffAll(ctx context.Context) error {
	if err := d.mesh.admin.OffPath(ctx, d.prefix+"*"); err != nil {
		return fmt.Errorf("happner: data offAll: %w", err)
	}
	return nil
}
