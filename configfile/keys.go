package configfile

import (
	"sort"
	"strings"
)

// Key is one key a config reader has a place for.
type Key struct {
	// Path is the key's full path: keys joined by dots, [MapEntry] for an
	// entry of an object whose keys the file chooses
	// (components.<name>.version) and [ListItem] after a list whose items
	// are objects (datastores[].name).
	Path string
	// Unsupported is why the key does nothing, for a key of a feature that
	// is not implemented (a field of type [Unsupported]); empty for a key
	// that is used.
	Unsupported string
}

// Segments of a [Key] path that stand for no key of their own.
const (
	// MapEntry stands for any key of an object whose keys the file
	// chooses (a component's name, a module's name).
	MapEntry = "<name>"
	// ListItem follows a list whose items are objects with known keys.
	ListItem = "[]"
)

// maxKeyDepth bounds the walk, against a config type that contains itself.
const maxKeyDepth = 32

// KnownKeys lists the keys decode (a config package's DecodeConfig) has a
// place for, sorted by path: every key whose value decode reads whole (a
// number, a string, a list of them, an object kept as it is) and every
// key of a feature that is not implemented. Objects with known keys of
// their own are not listed: their keys are.
//
// The keys are found by decoding probe documents, so they are exactly
// the keys that [Document.Problems] does not report as unknown: decode
// is given an empty object, then for each key it knows an empty object
// (which reveals the keys below it), a list of one empty object (the keys
// of list items) or an object with one entry (the keys of map values).
func KnownKeys[T any](decode func(Section) (T, error)) []Key {
	var out []Key
	walkKeys(func(root *node) error {
		_, err := decode((&Document{root: root}).Root())
		return err
	}, nil, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// walkKeys adds the keys at and below path to out; try decodes a probe
// document.
func walkKeys(try func(*node) error, path []string, out *[]Key) {
	leaf := &node{kind: kindObject}
	if try(probeDoc(path, leaf)) == nil {
		switch {
		case len(path) > 0 && !leaf.used && leaf.unsupported == "":
			// named (Section.Child) but never read: Problems reports it
			return
		case leaf.unsupported != "":
			*out = append(*out, Key{Path: keyPath(path), Unsupported: leaf.unsupported})
			return
		case len(leaf.known) > 0 && len(path) < maxKeyDepth:
			names := make([]string, 0, len(leaf.known))
			for k := range leaf.known {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				walkKeys(try, append(path[:len(path):len(path)], k), out)
			}
			return
		}
		// no keys of its own: an object whose keys the file chooses, or a
		// value read whole
		value := &node{kind: kindObject}
		m := &node{kind: kindObject, entries: []entry{{key: MapEntry, val: value}}}
		if len(path) < maxKeyDepth && try(probeDoc(path, m)) == nil && (len(value.known) > 0 || value.unsupported != "") {
			walkKeys(try, append(path[:len(path):len(path)], MapEntry), out)
			return
		}
	} else if len(path) > 0 {
		item := &node{kind: kindObject}
		list := &node{kind: kindArray, items: []*node{item}}
		if len(path) < maxKeyDepth && try(probeDoc(path, list)) == nil && len(item.known) > 0 {
			walkKeys(try, append(path[:len(path):len(path)], ListItem), out)
			return
		}
	}
	if len(path) > 0 {
		*out = append(*out, Key{Path: keyPath(path)})
	}
}

// probeDoc returns a document that has leaf at path and nothing else.
func probeDoc(path []string, leaf *node) *node {
	n := leaf
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == ListItem {
			n = &node{kind: kindArray, items: []*node{n}}
		} else {
			n = &node{kind: kindObject, entries: []entry{{key: path[i], val: n}}}
		}
	}
	return n
}

// keyPath writes a probe path as a Key's Path.
func keyPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if b.Len() > 0 && p != ListItem {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
