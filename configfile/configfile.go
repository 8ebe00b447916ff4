// Package configfile reads happner-go config files, JSON or YAML, and
// says what it did with every key.
//
// A [Document] is parsed once ([Parse], [Load]): syntax errors carry the
// file, line and column; ${NAME} and ${NAME:-default} in string values are
// replaced from the environment (an unset variable without a default is an
// error naming it). The config packages then decode the sections they own
// into their Go structs with [Section.Decode], which follows the structs'
// json tags: a field is a key, so a field added to a struct is a known key
// at once. Numbers are read in any JSON notation that is a whole number
// (60e3) for integer fields, a string built from ${…} is read as a number
// or boolean where the field wants one, and a type error names the key's
// path and the type expected in plain words.
//
// After decoding, [Document.Problems] lists every key that no decoder used,
// with a near name when one exists, and every key of a feature that is not
// implemented (a field of type [Unsupported]); [Document.Strict] turns them
// into an error.
//
// [KnownKeys] lists every key a reader (a config package's DecodeConfig)
// has a place for, found by decoding probe documents: what a reference
// page must document (docs/configuration.md is checked against it).
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Options configure Parse and Load.
type Options struct {
	// Format is "json" or "yaml" ("yml"; a leading dot is ignored). Empty:
	// from the file name's extension, else JSON when the data starts
	// with '{' and YAML otherwise.
	Format string
	// LookupEnv resolves ${NAME}; default os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Document is a parsed config file.
type Document struct {
	name string
	root *node
}

// Parse reads a config from data. name is the file name used in messages
// and to choose the format; it may be empty.
func Parse(data []byte, name string, opts Options) (*Document, error) {
	format := strings.TrimPrefix(strings.ToLower(opts.Format), ".")
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(name)), ".")
	}
	if format != "json" && format != "yaml" && format != "yml" {
		format = "yaml"
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			format = "json"
		}
	}
	var root *node
	var err error
	if format == "json" {
		root, err = parseJSON(data)
	} else {
		root, err = parseYAML(data)
	}
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return nil, &Error{File: name, Line: se.line, Column: se.col, Msg: "syntax error: " + se.msg}
		}
		return nil, &Error{File: name, Msg: "syntax error: " + err.Error()}
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	d := &Document{name: name, root: root}
	if err := d.expand(root, nil, lookup); err != nil {
		return nil, err
	}
	return d, nil
}

// Load reads the config file at path.
func Load(path string, opts Options) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path, opts)
}

// expand replaces environment references in every string value.
func (d *Document) expand(n *node, path []string, lookup func(string) (string, bool)) error {
	switch n.kind {
	case kindString:
		s, found, err := expandEnv(n.text, lookup)
		if err != nil {
			return d.errorAt(n, path, err.Error())
		}
		if found {
			n.text, n.expanded, n.yamlText = s, true, s
		}
	case kindObject:
		for _, e := range n.entries {
			if err := d.expand(e.val, append(path, e.key), lookup); err != nil {
				return err
			}
		}
	case kindArray:
		for i, it := range n.items {
			if err := d.expand(it, appendIndex(path, i), lookup); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseWith parses data (format as in [Options.Format]) and reads the
// whole document with decode, a config package's DecodeConfig. The keys
// that do nothing are logged as warnings on slog's default logger.
func ParseWith[T any](data []byte, format string, decode func(Section) (T, error)) (T, error) {
	doc, err := Parse(data, "", Options{Format: format})
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeAndWarn(doc, decode)
}

// LoadWith is [ParseWith] for the file at path (its format from its
// extension).
func LoadWith[T any](path string, decode func(Section) (T, error)) (T, error) {
	doc, err := Load(path, Options{})
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeAndWarn(doc, decode)
}

func decodeAndWarn[T any](doc *Document, decode func(Section) (T, error)) (T, error) {
	v, err := decode(doc.Root())
	if err != nil {
		return v, err
	}
	for _, p := range doc.Problems() {
		slog.Warn(p.String())
	}
	return v, nil
}

// Name returns the file name the document was read from ("" when none).
func (d *Document) Name() string { return d.name }

// Root returns the whole document.
func (d *Document) Root() Section { return Section{d: d, n: d.root} }

// Error is a config error at a position: a syntax error, an unset
// environment variable or a value of the wrong type.
type Error struct {
	// File is the file name ("" when the config did not come from a file).
	File string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Path is the key path ("happn.port"), "" for syntax errors.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as "file:line:column: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	if loc := location(e.File, e.Line, e.Column); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// location formats "file:line:column" with whatever is known.
func location(file string, line, col int) string {
	var parts []string
	if file != "" {
		parts = append(parts, file)
	}
	if line > 0 {
		parts = append(parts, strconv.Itoa(line))
		if col > 0 {
			parts = append(parts, strconv.Itoa(col))
		}
	}
	return strings.Join(parts, ":")
}

func (d *Document) errorAt(n *node, path []string, msg string) *Error {
	e := &Error{File: d.name, Path: joinPath(path), Msg: msg}
	if n != nil {
		e.Line, e.Column = n.line, n.col
	}
	return e
}

// joinPath writes a key path as dotted keys and [i] indexes.
func joinPath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func appendIndex(path []string, i int) []string {
	return append(path[:len(path):len(path)], "["+strconv.Itoa(i)+"]")
}

// Section is one object of a document (the whole document, or the value
// of a key path). A section whose key is absent decodes nothing.
type Section struct {
	d    *Document
	n    *node
	path []string
}

// Exists reports whether the section's key is present in the file.
func (s Section) Exists() bool { return s.n != nil }

// Path returns the section's key path ("happn", "" for the document).
func (s Section) Path() string { return joinPath(s.path) }

// Child returns the section at key below s, and makes key a known key of
// s whether or not the file has it.
func (s Section) Child(key string) Section {
	child := Section{d: s.d, path: append(s.path[:len(s.path):len(s.path)], key)}
	if s.n != nil && s.n.kind == kindObject {
		if s.n.known == nil {
			s.n.known = map[string]bool{}
		}
		s.n.known[key] = true
		child.n = s.n.lookup(key)
	}
	return child
}

// Unused reports the section's key, when the file has it, as one that does
// nothing here, with the reason (a key that is valid in other kinds of
// file, such as happn.filename in a cluster member's config).
func (s Section) Unused(reason string) {
	if s.n != nil {
		s.n.markAll()
		s.n.unsupported = reason
	}
}

// Has reports whether the section has the nested key path (Has("happn",
// "services", "membership")), without making any key known.
func (s Section) Has(keys ...string) bool {
	n := s.n
	for _, k := range keys {
		if n = n.lookup(k); n == nil {
			return false
		}
	}
	return n != nil
}

// Keys returns the section's keys in file order (nil when it is not an
// object).
func (s Section) Keys() []string {
	if s.n == nil || s.n.kind != kindObject {
		return nil
	}
	keys := make([]string, len(s.n.entries))
	for i, e := range s.n.entries {
		keys[i] = e.key
	}
	return keys
}

// Decode stores the section's value in the value v points to, following
// json tags; keys without a field are left for [Document.Problems]. It
// returns an *[Error] naming the key path of a value of the wrong type.
func (s Section) Decode(v any) error {
	if s.n == nil {
		return nil
	}
	return s.d.decodeValue(s.n, s.path, v)
}
