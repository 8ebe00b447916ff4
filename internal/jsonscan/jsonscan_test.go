package jsonscan

import (
	"errors"
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
