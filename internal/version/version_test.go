package version

import (
	"runtime/debug"
	"testing"
)

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

func TestOfModule(t *testing.T) {
	dep := func(v string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "example.com/own"}, Deps: []*debug.Module{{Path: ModulePath, Version: v, Replace: replace}}}
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"built in the project", &debug.BuildInfo{Main: debug.Module{Path: ModulePath, Version: "(devel)"}}, "(devel)"},
		{"a dependency", dep("v1.2.3", nil), "v1.2.3"},
		{"replaced by a directory", dep("v0.0.0", &debug.Module{Path: "../happner", Version: "(devel)"}), "(devel)"},
		{"replaced by another version", dep("v1.2.3", &debug.Module{Path: ModulePath, Version: "v1.2.4"}), "v1.2.4"},
		{"not in the binary", &debug.BuildInfo{Main: debug.Module{Path: "example.com/own"}}, "unknown"},
	} {
		if got := ofModule(tc.info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
