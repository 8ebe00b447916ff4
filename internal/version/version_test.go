package version

import "testing"

func TestSatisfies(t *testing.T) {
	cases := []struct {
		version, rng string
		want         bool
	}{
		{"1.2.0", "^1.0.0", true},
		{"2.0.0", "^1.0.0", false},
		{"3.2.0-prerelease-1", "^3.0.0", true}, // prerelease tags are stripped
		{"5.0.0-prerelease-1", "^4.0.0", false},
		{"2.0.0-prerelease-1", "*", true},
		{"^2.0.0", "^2.0.0", true}, // a placeholder's version is its range
		{"1.0", "^1.0.0", true},    // coerced
		{"abc", "^1.0.0", false},
	}
	for _, c := range cases {
		if got := Satisfies(c.version, c.rng); got != c.want {
			t.Errorf("Satisfies(%q, %q) = %v, want %v", c.version, c.rng, got, c.want)
		}
	}
	if Compare("3.4.5", "2.1.2") <= 0 || Compare("1.0.0", "1.0.0-beta") <= 0 {
		t.Fatal("Compare order")
	}
}
