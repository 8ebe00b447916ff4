package configfile

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is a key of the file that does nothing: unknown to every
// decoder, or standing for a feature that is not implemented.
type Problem struct {
	// File, Line and Column locate the key.
	File         string
	Line, Column int
	// Path is the key's full path ("happn.services.orchestrator").
	Path string
	// Unsupported is the reason when the key names a feature that is not
	// implemented; empty for an unknown key.
	Unsupported string
	// Hint is a known key with a near name ("happn.port" for
	// "happn.prot"), when there is one.
	Hint string
}

// String is the problem as one warning line.
func (p Problem) String() string {
	var b strings.Builder
	if p.Unsupported != "" {
		fmt.Fprintf(&b, "config: %s is not used: %s", p.Path, p.Unsupported)
	} else {
		fmt.Fprintf(&b, "config: unknown key %s", p.Path)
		if p.Hint != "" {
			fmt.Fprintf(&b, " (did you mean %s?)", p.Hint)
		}
	}
	if loc := location(p.File, p.Line, p.Column); loc != "" {
		b.WriteString(" at ")
		b.WriteString(loc)
	}
	return b.String()
}

// Problems returns the keys no decoder used and the keys of features that
// are not implemented, in file order. Call it after every section has been
// decoded.
func (d *Document) Problems() []Problem {
	var out []Problem
	d.collect(d.root, nil, &out)
	return out
}

func (d *Document) collect(n *node, path []string, out *[]Problem) {
	switch n.kind {
	case kindObject:
		for _, e := range n.entries {
			p := append(path[:len(path):len(path)], e.key)
			switch {
			case e.val.unsupported != "":
				*out = append(*out, Problem{File: d.name, Line: e.line, Column: e.col, Path: joinPath(p), Unsupported: e.val.unsupported})
			case !e.val.used:
				pr := Problem{File: d.name, Line: e.line, Column: e.col, Path: joinPath(p)}
				if near := nearest(e.key, n.known); near != "" {
					pr.Hint = joinPath(append(path[:len(path):len(path)], near))
				}
				*out = append(*out, pr)
			default:
				d.collect(e.val, p, out)
			}
		}
	case kindArray:
		for i, it := range n.items {
			d.collect(it, appendIndex(path, i), out)
		}
	}
}

// StrictError is returned by [Document.Strict] when the file has problems.
type StrictError struct {
	// Problems are the keys that do nothing.
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *StrictError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("config: %d key(s) not used (strict mode):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// Strict returns a *[StrictError] when the document has problems.
func (d *Document) Strict() error {
	if ps := d.Problems(); len(ps) > 0 {
		return &StrictError{Problems: ps}
	}
	return nil
}

// nearest returns the known key closest to key when it is near enough to
// be a typing mistake (a different case, or a few letters off).
func nearest(key string, known map[string]bool) string {
	best, bestDist := "", 1<<30
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		dist := editDistance(strings.ToLower(key), strings.ToLower(k))
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := 1
	switch n := len(key); {
	case n >= 10:
		limit = 3
	case n >= 5:
		limit = 2
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours count one each.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
