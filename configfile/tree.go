package configfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// kind is the JSON type of a node.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// node is one value of the document with its position. Objects keep their
// keys in document order.
type node struct {
	kind kind
	// text is the string's value, the number's literal (JSON notation) or
	// "true"/"false".
	text string
	// yamlText is a YAML plain scalar's text as written ("0755", "1e3"),
	// which a string field takes as it is.
	yamlText string
	plain    bool
	// expanded marks a string that contained ${…}: a number or boolean
	// field accepts it when it reads as one.
	expanded bool
	entries  []entry // objects
	items    []*node // arrays
	line     int
	col      int

	// used: some decoder consumed this value.
	used bool
	// known are the keys of an object that some decoder has a place for.
	known map[string]bool
	// unsupported is why a decoder refused this value's feature.
	unsupported string
}

// entry is one key of an object.
type entry struct {
	key  string
	line int
	col  int
	val  *node
}

// lookup returns the value of key, nil when absent.
func (n *node) lookup(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, e := range n.entries {
		if e.key == key {
			return e.val
		}
	}
	return nil
}

// markAll marks n and everything below it used.
func (n *node) markAll() {
	n.used = true
	for _, e := range n.entries {
		e.val.markAll()
	}
	for _, it := range n.items {
		it.markAll()
	}
}

// describe names the value for an error message.
func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return n.text
	case kindNumber:
		return "the number " + n.text
	case kindString:
		s := n.text
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return "the string " + strconv.Quote(s)
	case kindObject:
		return "an object"
	default:
		return "a list"
	}
}

// marshal writes the value as JSON.
func (n *node) marshal(buf *bytes.Buffer) error {
	switch n.kind {
	case kindNull:
		buf.WriteString("null")
	case kindBool, kindNumber:
		if n.kind == kindNumber && !json.Valid([]byte(n.text)) {
			return fmt.Errorf("%s cannot be written in JSON", n.text)
		}
		buf.WriteString(n.text)
	case kindString:
		b, _ := json.Marshal(n.text)
		buf.Write(b)
	case kindObject:
		buf.WriteByte('{')
		for i, e := range n.entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			k, _ := json.Marshal(e.key)
			buf.Write(k)
			buf.WriteByte(':')
			if err := e.val.marshal(buf); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case kindArray:
		buf.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := it.marshal(buf); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	}
	return nil
}

// value returns the node as encoding/json would decode it into an any.
func (n *node) value() any {
	switch n.kind {
	case kindBool:
		return n.text == "true"
	case kindNumber:
		f, _ := strconv.ParseFloat(n.text, 64)
		return f
	case kindString:
		return n.text
	case kindObject:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = e.val.value()
		}
		return m
	case kindArray:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.value()
		}
		return l
	}
	return nil
}

// jsonParser reads JSON into nodes, with the position of every value and
// key, and reports syntax errors with their line and column.
type jsonParser struct {
	data []byte
	pos  int
	line int
	col  int // column of pos, 1-based, in characters
}

// syntaxError is a syntax error at the parser's position.
type syntaxError struct {
	line, col int
	msg       string
}

func (e *syntaxError) Error() string { return e.msg }

func parseJSON(data []byte) (*node, error) {
	p := &jsonParser{data: data, line: 1, col: 1}
	p.skipSpace()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return nil, p.errorf("unexpected %s after the end of the document", p.describeHere())
	}
	return n, nil
}

// maxDepth bounds nesting so that a hostile file cannot exhaust the stack.
const maxDepth = 1000

func (p *jsonParser) errorf(format string, args ...any) error {
	return &syntaxError{line: p.line, col: p.col, msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) describeHere() string {
	if p.pos >= len(p.data) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return strconv.QuoteRune(r)
}

// advance moves past n bytes, keeping line and column.
func (p *jsonParser) advance(n int) {
	for i := 0; i < n && p.pos < len(p.data); i++ {
		c := p.data[p.pos]
		p.pos++
		switch {
		case c == '\n':
			p.line++
			p.col = 1
		case c < utf8.RuneSelf || utf8.RuneStart(c):
			p.col++
		}
	}
}

// eat moves past c when it is next.
func (p *jsonParser) eat(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.advance(1)
		return true
	}
	return false
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.advance(1)
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of file, expected a value")
	}
	n := &node{line: p.line, col: p.col}
	switch c := p.data[p.pos]; {
	case c == '{':
		n.kind = kindObject
		return n, p.object(n, depth)
	case c == '[':
		n.kind = kindArray
		return n, p.array(n, depth)
	case c == '"':
		s, err := p.str()
		n.kind, n.text = kindString, s
		return n, err
	case c == '-' || (c >= '0' && c <= '9'):
		n.kind = kindNumber
		lit, err := p.number()
		n.text = lit
		return n, err
	default:
		for _, w := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(w)) {
				p.advance(len(w))
				if w == "null" {
					n.kind = kindNull
				} else {
					n.kind, n.text = kindBool, w
				}
				return n, nil
			}
		}
		return nil, p.errorf("unexpected %s, expected a value", p.describeHere())
	}
}

func (p *jsonParser) object(n *node, depth int) error {
	p.advance(1) // {
	p.skipSpace()
	if p.eat('}') {
		return nil
	}
	seen := map[string]bool{}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return p.errorf("unexpected %s, expected a key in double quotes", p.describeHere())
		}
		line, col := p.line, p.col
		key, err := p.str()
		if err != nil {
			return err
		}
		if seen[key] {
			return &syntaxError{line: line, col: col, msg: fmt.Sprintf("key %q appears twice in one object", key)}
		}
		seen[key] = true
		p.skipSpace()
		if !p.eat(':') {
			return p.errorf("unexpected %s, expected ':' after the key %q", p.describeHere(), key)
		}
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		n.entries = append(n.entries, entry{key: key, line: line, col: col, val: v})
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return nil
		}
		return p.errorf("unexpected %s, expected ',' or '}'", p.describeHere())
	}
}

func (p *jsonParser) array(n *node, depth int) error {
	p.advance(1) // [
	p.skipSpace()
	if p.eat(']') {
		return nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		n.items = append(n.items, v)
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return nil
		}
		return p.errorf("unexpected %s, expected ',' or ']'", p.describeHere())
	}
}

// str reads a string literal; encoding/json decodes its escapes.
func (p *jsonParser) str() (string, error) {
	start := p.pos
	i := p.pos + 1
	for i < len(p.data) {
		switch c := p.data[i]; {
		case c == '\\':
			i += 2
			continue
		case c == '"':
			var s string
			if err := json.Unmarshal(p.data[start:i+1], &s); err != nil {
				return "", p.errorf("invalid string: %v", err)
			}
			p.advance(i + 1 - start)
			return s, nil
		case c < 0x20:
			p.advance(i - start)
			return "", p.errorf("control character %q in a string (write it escaped)", rune(c))
		}
		i++
	}
	return "", p.errorf("string not closed before the end of file")
}

// number reads a number literal as JSON writes it.
func (p *jsonParser) number() (string, error) {
	start := p.pos
	i := p.pos
	for i < len(p.data) && strings.IndexByte("+-0123456789.eE", p.data[i]) >= 0 {
		i++
	}
	lit := string(p.data[start:i])
	if !json.Valid([]byte(lit)) {
		return "", p.errorf("invalid number %s", lit)
	}
	p.advance(i - start)
	return lit, nil
}

// parseYAML reads YAML into nodes with their positions.
func parseYAML(data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: kindObject, line: 1, col: 1}, nil
	}
	return fromYAML(doc.Content[0], 0)
}

func fromYAML(y *yaml.Node, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &syntaxError{line: y.Line, col: y.Column, msg: "nested too deeply"}
	}
	n := &node{line: y.Line, col: y.Column}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kindObject, line: 1, col: 1}, nil
		}
		return fromYAML(y.Content[0], depth+1)
	case yaml.AliasNode:
		a, err := fromYAML(y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		a.line, a.col = y.Line, y.Column
		return a, nil
	case yaml.MappingNode:
		n.kind = kindObject
		seen := map[string]bool{}
		var merged []entry
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Tag == "!!merge" {
				src, err := fromYAML(v, depth+1)
				if err != nil {
					return nil, err
				}
				switch src.kind {
				case kindObject:
					merged = append(merged, src.entries...)
				case kindArray:
					for _, it := range src.items {
						merged = append(merged, it.entries...)
					}
				}
				continue
			}
			val, err := fromYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			seen[k.Value] = true
			n.entries = append(n.entries, entry{key: k.Value, line: k.Line, col: k.Column, val: val})
		}
		for _, e := range merged {
			if !seen[e.key] {
				seen[e.key] = true
				n.entries = append(n.entries, e)
			}
		}
	case yaml.SequenceNode:
		n.kind = kindArray
		for _, c := range y.Content {
			it, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, it)
		}
	case yaml.ScalarNode:
		n.plain = y.Style == 0
		n.yamlText = y.Value
		switch y.ShortTag() {
		case "!!null":
			n.kind = kindNull
		case "!!bool":
			var b bool
			if err := y.Decode(&b); err != nil {
				return nil, &syntaxError{line: y.Line, col: y.Column, msg: err.Error()}
			}
			n.kind, n.text = kindBool, strconv.FormatBool(b)
		case "!!int", "!!float":
			var v any
			if err := y.Decode(&v); err != nil {
				return nil, &syntaxError{line: y.Line, col: y.Column, msg: err.Error()}
			}
			n.kind = kindNumber
			switch x := v.(type) {
			case int:
				n.text = strconv.Itoa(x)
			case int64:
				n.text = strconv.FormatInt(x, 10)
			case uint64:
				n.text = strconv.FormatUint(x, 10)
			case float64:
				if math.IsInf(x, 0) || math.IsNaN(x) {
					n.text = y.Value
				} else {
					n.text = strconv.FormatFloat(x, 'g', -1, 64)
				}
			default:
				n.text = y.Value
			}
		default:
			n.kind, n.text = kindString, y.Value
		}
	}
	return n, nil
}

// yamlSyntaxError turns a YAML parser error into a syntaxError. The
// parser reports only the line ("yaml: line 4: …"); the column is the
// first position on that line from which the document up to it fails the
// same way, which is where the offending token starts.
func yamlSyntaxError(data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr != nil || line < 1 {
		return &syntaxError{msg: msg}
	}
	rest := strings.TrimSpace(strings.SplitN(msg, ":", 2)[1])
	lines := bytes.SplitAfter(data, []byte("\n"))
	if line > len(lines) {
		return &syntaxError{line: line, col: 1, msg: rest}
	}
	prefix := bytes.Join(lines[:line-1], nil)
	text := lines[line-1]
	col := 1 + len(text) - len(bytes.TrimLeft(text, " \t"))
	for i := 1; i <= len(bytes.TrimRight(text, "\r\n")); i++ {
		var probe yaml.Node
		e := yaml.Unmarshal(append(append([]byte{}, prefix...), text[:i]...), &probe)
		if e != nil && e.Error() == err.Error() {
			col = utf8.RuneCount(text[:i])
			break
		}
	}
	return &syntaxError{line: line, col: col, msg: rest}
}
