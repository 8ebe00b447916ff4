package jsonscan

import (
	"errors"
	"strings"
	"testing"
)

func TestEachMember(t *testing.T) {
	var keys, values []string
	err := EachMember([]byte(` {"a":1, "b\u0020c":[true,{"x":null}], "d":"s\"q"} `), func(k, v []byte) error {
		keys = append(keys, string(k))
		values = append(values, string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || values[0] != "1" || values[1] != `[true,{"x":null}]` || values[2] != `"s\"q"` {
		t.Fatalf("members %q = %q", keys, values)
	}
	if !KeyIs([]byte(`"b\u0020c"`), "b c") || KeyIs([]byte(`"a"`), "b") {
		t.Fatal("KeyIs")
	}
	if s, ok := Unquote([]byte(`"s\"q"`)); !ok || s != `s"q` {
		t.Fatalf("Unquote = %q %v", s, ok)
	}
	for _, bad := range []string{`{`, `{"a"}`, `{"a":1,}`, `{"a":01}`, `{"a":"\x"}`, `[1]`, `{"a":1} x`, "{\"a\":\"\x01\"}"} {
		if err := EachMember([]byte(bad), func(k, v []byte) error { return nil }); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v, want a syntax error", bad, err)
		}
	}
}

func TestEachElement(t *testing.T) {
	var got []string
	if err := EachElement([]byte(`[1, "a", {"b":[2]}, null]`), func(v []byte) error { got = append(got, string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[2] != `{"b":[2]}` {
		t.Fatalf("elements %q", got)
	}
	if err := EachElement([]byte(`[]`), func([]byte) error { t.Fatal("element in []"); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`[1,]`, `{}`, `[1 2]`} {
		if err := EachElement([]byte(bad), func([]byte) error { return nil }); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestEachMemberLenient(t *testing.T) {
	deep := strings.Repeat("[", 2*maxNesting) + strings.Repeat("]", 2*maxNesting)
	for _, c := range []struct{ in, want string }{
		{`{"a":1,"b":"x"}`, `"a"=1 "b"="x"`},
		{` { "a" : 1 , "b" : [2] } `, `"a"=1 "b"=[2]`},
		{`{"a":5,"e":3}`, `"a"=5 "e"=3`},
		{`{"d":` + deep + `,"e":4}`, `"e"=4`},
		{`{"d":"\q","e":5}`, `"e"=5`},
		{`{"d":"\q [{\"}","e":6}`, `"e"=6`},
		{`{"d":{"s":"\x","t":[1,2]},"e":7,"f":01,"g":true}`, `"e"=7 "g"=true`},
		{`{"e":8,"d":[[[`, `"e"=8`},
		{`{"e":9,"x\q":1,"f":2}`, `"e"=9`}, // a broken key ends the walk
		{`{"e":10 "f":2}`, ``},
		{`{"e":11,"f"}`, `"e"=11`},
		{`{"e":12`, ``},
		{`[{"e":1}]`, ``},
		{`{"d":{"e":13}}`, `"d"={"e":13}`},
		{``, ``},
		{`{`, ``},
		{`{}`, ``},
		{`{"d":"\`, ``},
	} {
		var got []string
		EachMemberLenient([]byte(c.in), func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("%.40q: %q, want %q", c.in, s, c.want)
		}
	}
}

// FuzzEachMemberLenient: on any input the lenient walk ends without
// panicking and hands over only valid values; on an object EachMember
// accepts it sees the same members.
func FuzzEachMemberLenient(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[{"c":"d"}]}`, `{"d":"\q","e":5}`, `{"d":[[[[,"e":1}`, `{"e":"\`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var lenient []string
		EachMemberLenient(b, func(k, v []byte) {
			if _, err := scanValue(v, 0, 1); err != nil {
				t.Fatalf("invalid value %q handed over", v)
			}
			lenient = append(lenient, string(k)+"="+string(v))
		})
		var strict []string
		if EachMember(b, func(k, v []byte) error { strict = append(strict, string(k)+"="+string(v)); return nil }) == nil &&
			strings.Join(strict, "\x00") != strings.Join(lenient, "\x00") {
			t.Fatalf("%q: lenient %q, strict %q", b, lenient, strict)
		}
	})
}
