package happner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/store"
)

// applyDataRoutes routes the component's data.routes to their datastores:
// {"sub/path/*": "storeName"} sends /_data/<component>/sub/path/*
// to the datastore storeName.
func (m *Mesh) applyDataRoutes(c *component) error {
	raw, ok := c.config.Data["routes"]
	if !ok || raw == nil {
		return nil
	}
	routes, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("happner: component %q: data.routes must be an object of route: datastore name", c.name)
	}
	patterns := make([]string, 0, len(routes))
	for p := range routes {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	router, _ := m.srv.Store().(*store.Router)
	for _, p := range patterns {
		name, _ := routes[p].(string)
		if router == nil || name == "" || router.Datastore(name) == nil {
			return fmt.Errorf("bad component data route: missing datastore with the key [%v]", routes[p])
		}
		if err := router.AddFilter("/_data/"+c.name+"/"+strings.TrimPrefix(p, "/"), name); err != nil {
			return fmt.Errorf("bad component data route: %w", err)
		}
	}
	return nil
}

// dataModule is the shared data system component, enabled
// with components: {data: {}}: the happn data of /_data/data/ over the
// exchange, run as the mesh itself. Set also emits the data as the event
// data/<path> unless options.noPublish.
type dataModule struct{}

// HappnerSchema names the parameters as the JS component does.
func (dataModule) HappnerSchema() ModuleSchema {
	p := func(names ...string) MethodSchema {
		ps := make([]Param, len(names))
		for i, n := range names {
			ps[i] = Param{Name: n}
		}
		return MethodSchema{Parameters: ps}
	}
	return ModuleSchema{Version: Version, Schema: Schema{Methods: map[string]MethodSchema{
		"set":       p("path", "data", "options"),
		"get":       p("path", "options"),
		"getPaths":  p("path"),
		"count":     p("path", "options"),
		"remove":    p("path", "options"),
		"increment": p("path", "gauge", "increment"),
	}}}
}

// requestOptions turns a JSON options object into client options.
func requestOptions(opts map[string]any) []client.Option {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]client.Option, 0, len(keys))
	for _, k := range keys {
		out = append(out, client.With(k, opts[k]))
	}
	return out
}

// itemJSON renders a stored item as happn clients receive it: the data
// with its _meta inside.
func itemJSON(it *client.Item) (json.RawMessage, error) {
	if it == nil {
		return json.RawMessage("null"), nil
	}
	meta, err := json.Marshal(it.Meta)
	if err != nil {
		return nil, fmt.Errorf("happner: encode _meta: %w", err)
	}
	data := bytes.TrimSpace(it.Data)
	if len(data) < 2 || data[0] != '{' {
		return json.Marshal(map[string]any{"value": json.RawMessage(nonEmpty(data)), "_meta": json.RawMessage(meta)})
	}
	var b bytes.Buffer
	b.Grow(len(data) + len(meta) + 10)
	b.Write(data[:len(data)-1])
	if len(bytes.TrimSpace(data[1:len(data)-1])) > 0 {
		b.WriteByte(',')
	}
	b.WriteString(`"_meta":`)
	b.Write(meta)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

// Set stores data at path and, unless options.noPublish, emits it as the
// event data/<path>. It returns the stored item.
func (dataModule) Set(h *Happn, path string, data json.RawMessage, options map[string]any) (json.RawMessage, error) {
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	it, err := h.AsAdmin().Data.Set(h.Ctx, path, data, requestOptions(options)...)
	if err != nil {
		return nil, err
	}
	if np, _ := options["noPublish"].(bool); !np {
		if err := h.Emit(strings.TrimPrefix(path, "/"), data); err != nil {
			return nil, err
		}
	}
	return itemJSON(it)
}

// Get reads path: one item (or null) for a plain path, a list for a
// wildcard path.
func (dataModule) Get(h *Happn, path string, options map[string]any) (json.RawMessage, error) {
	res, err := h.AsAdmin().Data.Get(h.Ctx, path, requestOptions(options)...)
	if err != nil {
		return nil, err
	}
	if !res.List {
		return itemJSON(res.One())
	}
	items := make([]json.RawMessage, len(res.Items))
	for i := range res.Items {
		if items[i], err = itemJSON(&res.Items[i]); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("happner: encode items: %w", err)
	}
	return b, nil
}

// GetPaths lists the paths matching path.
func (dataModule) GetPaths(h *Happn, path string) ([]string, error) {
	return h.AsAdmin().Data.GetPaths(h.Ctx, path)
}

// Count counts the items matching path, as {"value": n}.
func (dataModule) Count(h *Happn, path string, options map[string]any) (map[string]int, error) {
	n, err := h.AsAdmin().Data.Count(h.Ctx, path, requestOptions(options)...)
	if err != nil {
		return nil, err
	}
	return map[string]int{"value": n}, nil
}

// Remove removes the items matching path, answering {"removed": n}.
func (dataModule) Remove(h *Happn, path string, options map[string]any) (map[string]int, error) {
	n, err := h.AsAdmin().Data.Remove(h.Ctx, path, requestOptions(options)...)
	if err != nil {
		return nil, err
	}
	return map[string]int{"removed": n}, nil
}

// Increment adds increment (default 1) to gauge (default "counter") at
// path; a number in gauge's place is the increment.
func (dataModule) Increment(h *Happn, path string, gauge, increment json.RawMessage) (float64, error) {
	g, by := "counter", 1.0
	var num float64
	if len(gauge) > 0 && json.Unmarshal(gauge, &num) == nil {
		by = num
	} else if len(gauge) > 0 && string(gauge) != "null" {
		if err := json.Unmarshal(gauge, &g); err != nil {
			return 0, fmt.Errorf("happner: increment: gauge must be a string: %w", err)
		}
	}
	if len(increment) > 0 && string(increment) != "null" {
		if err := json.Unmarshal(increment, &by); err != nil {
			return 0, fmt.Errorf("happner: increment: increment must be a number: %w", err)
		}
	}
	return h.AsAdmin().Data.Increment(h.Ctx, path, g, by)
}
