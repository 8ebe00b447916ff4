package pathmatch

import "testing"

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/B", false},
		{"/a/*", "/a/b", true},
		{"/a/*", "/a/b/c", true}, // data '*' crosses '/'
		{"/a/*", "/a", false},
		{"/a/*", "/a/", true},
		{"movie/*", "movie/war/ww2", true},
		{"*", "", true},
		{"*", "/anything/at/all", true},
		{"/a/*/bb", "/a/x/bb", true},
		{"/a/*/bb", "/a/x/bc", false}, // true glob: no collapsing of "bb"
		{"/a/*/bb", "/a/x/y/bb", true},
		{"/allowed/*", "/aXowed/x", false},
		{"/foo*", "/FOObar", false}, // case-sensitive
		{"/foo*", "/foo/bar", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**", "x", true},
	}
	for _, c := range cases {
		if got := Glob(c.pattern, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestSubscription(t *testing.T) {
	cases := []struct {
		pattern, path string
		depth         int
		want          bool
	}{
		{"/test/*", "/test/a", 0, true},
		{"/test/*", "/test/a/b", 0, false},
		{"/test/*", "/test", 0, false},
		{"test/*", "/test/a", 0, true}, // leading slash ignored
		{"/my/*/*", "/my/test/event", 0, true},
		{"/my*", "/mything", 0, false},
		{"/my/te*/event", "/my/test/event", 0, false},
		{"/x", "/x", 0, true},
		{"/x", "/x/y", 0, false},
		{"*", "/any/thing", 0, true},
		{"/deep/**", "/deep/a", 0, true},
		{"/deep/**", "/deep/a/b/c/d/e", 0, true},
		{"/deep/**", "/deep/a/b/c/d/e/f", 0, false},
		{"/deep/**", "/deep/a/b/c/d/e/f", 6, true},
		{"/deep/**", "/deep", 0, false},
		{"/deep/**", "/deep/a/b", 1, false},
		{"/**", "/a", 0, true},
		{"/a/*/c/**", "/a/b/c/d", 0, true},
		{"/a/*/c/**", "/a/b/x/d", 0, false},
		{"/a/b/", "/a/b/", 0, true},
		{"/a/b/", "/a/b", 0, false},
	}
	for _, c := range cases {
		if got := Subscription(c.pattern, c.path, c.depth); got != c.want {
			t.Errorf("Subscription(%q, %q, %d) = %v, want %v", c.pattern, c.path, c.depth, got, c.want)
		}
	}
}

func TestSplitChannel(t *testing.T) {
	cases := []struct {
		in, action, path string
		ok               bool
	}{
		{"/ALL@/a/*", "ALL", "/a/*", true},
		{"/SET@/x@y", "SET", "/x@y", true},
		{"/REMOVE@*", "REMOVE", "*", true},
		{"/set@/x", "SET", "/x", true},
		{"/a/b", "", "", false},
		{"/BOGUS@/a", "", "", false},
	}
	for _, c := range cases {
		a, p, ok := SplitChannel(c.in)
		if a != c.action || p != c.path || ok != c.ok {
			t.Errorf("SplitChannel(%q) = %q %q %v", c.in, a, p, ok)
		}
	}
}

func TestLiteralPrefix(t *testing.T) {
	if got := LiteralPrefix("/a/b*c"); got != "/a/b" {
		t.Fatal(got)
	}
	if got := LiteralPrefix("/a"); got != "/a" {
		t.Fatal(got)
	}
}

func FuzzGlob(f *testing.F) {
	f.Add("/a/*/b", "/a/x/b")
	f.Add("**", "")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if Glob(pattern, pattern) != true && !HasWildcard(pattern) {
			t.Fatalf("literal pattern %q does not match itself", pattern)
		}
		_ = Glob(pattern, s)
		_ = Subscription(pattern, s, 3)
	})
}

func BenchmarkSubscription(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Subscription("/a/*/c/**", "/a/b/c/d/e", 5)
	}
}

func TestOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/bob/*", "/bob/secret/*", true},
		{"/bob/secret/*", "/bob/*", true},
		{"/bob/**", "/bob/secret/*", true},
		{"/bob/*", "/alice/*", false},
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/c", false},
		{"/a/*/c", "/a/b/*", true},
		{"/a/*c", "/a/*d", false},
		{"*", "/anything", true},
		{"/x*", "*y", true},
		{"/x", "*y", false},
		{"/p/*", "/p", false},
		{"/p*", "/p", true},
		{"", "", true},
		{"", "*", true},
		{"a", "", false},
	} {
		if got := Overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		// a witness, where one exists, matches both
		if Overlap(tc.a, tc.b) != Overlap(tc.b, tc.a) {
			t.Errorf("Overlap(%q, %q) is not symmetric", tc.a, tc.b)
		}
	}
}

// FuzzOverlap checks Overlap against a witness: whenever one string matches
// both patterns, Overlap must say they overlap.
func FuzzOverlap(f *testing.F) {
	f.Add("/bob/*", "/bob/secret/*", "/bob/secret/1")
	f.Add("/a/*c", "/a/*d", "/a/xc")
	f.Fuzz(func(t *testing.T, a, b, s string) {
		if len(a) > 64 || len(b) > 64 || len(s) > 64 {
			return
		}
		if Glob(a, s) && Glob(b, s) && !Overlap(a, b) {
			t.Fatalf("%q matches %q and %q, but Overlap says no", s, a, b)
		}
	})
}
