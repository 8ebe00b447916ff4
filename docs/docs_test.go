// Package docs_test keeps the guides in docs/ true to the code: every key
// of the three kinds of config file is documented in configuration.md,
// every guide is linked from the README, and no page sends the reader to a
// file that is not in the repository.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/happn"
)

// configKind is one kind of config file and the keys its reader knows.
type configKind struct {
	name    string // as the page's section title names it
	keys    []configfile.Key
	covered func(path string) bool // documented in another kind's section
}

// TestConfigurationPageNamesEveryKey fails for every config key that
// docs/configuration.md does not name. The keys come from the readers
// themselves (configfile.KnownKeys over each DecodeConfig), so a field
// added to a config struct is a key at once, and this test asks for its
// documentation.
func TestConfigurationPageNamesEveryKey(t *testing.T) {
	page, err := os.ReadFile("configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	named := codeSpans(string(page))
	happnKeys := pathSet(configfile.KnownKeys(happn.DecodeConfig))
	meshKeys := pathSet(configfile.KnownKeys(happner.DecodeConfig))
	kinds := []configKind{
		{name: "happn config", keys: configfile.KnownKeys(happn.DecodeConfig),
			covered: func(string) bool { return false }},
		{name: "happner config", keys: configfile.KnownKeys(happner.DecodeConfig),
			covered: func(p string) bool {
				return happnKeys[strings.TrimPrefix(p, "happn.")] && strings.HasPrefix(p, "happn.")
			}},
		{name: "happner-cluster config", keys: configfile.KnownKeys(cluster.DecodeConfig),
			covered: func(p string) bool {
				return meshKeys[p] || (strings.HasPrefix(p, "happn.") && happnKeys[strings.TrimPrefix(p, "happn.")])
			}},
	}
	total := 0
	for _, k := range kinds {
		if len(k.keys) == 0 {
			t.Fatalf("%s: no keys found", k.name)
		}
		for _, key := range k.keys {
			total++
			if k.covered(key.Path) || named[normalize(key.Path)] {
				continue
			}
			note := ""
			if key.Unsupported != "" {
				note = " (not implemented: " + key.Unsupported + ")"
			}
			t.Errorf("docs/configuration.md does not name the %s key `%s`%s: add a row with it in backticks, "+
				"its default, what it does and whether it is supported, to the table of the section %q "+
				"(a map entry may be written <anything>, e.g. components.<component>.version)",
				k.name, key.Path, note, k.name)
		}
	}
	if total < 100 {
		t.Errorf("only %d keys found: the walk over the config readers is broken", total)
	}
}

// TestConfigurationKeysExistInTheCode catches the other way round: a key
// in a table's first column that no reader knows.
func TestConfigurationKeysExistInTheCode(t *testing.T) {
	page, err := os.ReadFile("configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, decode := range []func() []configfile.Key{
		func() []configfile.Key { return configfile.KnownKeys(happn.DecodeConfig) },
		func() []configfile.Key { return configfile.KnownKeys(happner.DecodeConfig) },
		func() []configfile.Key { return configfile.KnownKeys(cluster.DecodeConfig) },
	} {
		for _, k := range decode() {
			known[normalize(k.Path)] = true
		}
	}
	firstCell := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	for _, m := range firstCell.FindAllStringSubmatch(string(page), -1) {
		if !known[normalize(m[1])] {
			t.Errorf("docs/configuration.md documents `%s`, which no config reader knows: remove the row or fix the path", m[1])
		}
	}
}

// TestEveryGuideIsLinkedFromTheReadme fails for a page of docs/ that the
// README's Documentation section does not link.
func TestEveryGuideIsLinkedFromTheReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no pages in docs/")
	}
	for _, p := range pages {
		if !strings.Contains(string(readme), "](docs/"+p+")") {
			t.Errorf("README.md does not link docs/%s: add it to the Documentation section", p)
		}
	}
}

// outsideReferences are the names of reference files that are not in the
// repository; a page must explain the behaviour instead.
var outsideReferences = regexp.MustCompile(`(^|[^\w-])(DESIGN|cluster|mesh|happn|wire-protocol|protocol)\.md\b|(^|[^\w/-])spec/`)

// TestNoPageCitesFilesOutsideTheRepository checks every markdown file.
func TestNoPageCitesFilesOutsideTheRepository(t *testing.T) {
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".md") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if outsideReferences.MatchString(line) {
				t.Errorf("%s:%d cites a file that is not in the repository: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// codeSpans returns the text of every `code span` of a markdown page,
// normalised.
func codeSpans(page string) map[string]bool {
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(page, -1) {
		out[normalize(m[1])] = true
	}
	return out
}

// placeholder is a map entry in a key path: <name>, <component>, …
var placeholder = regexp.MustCompile(`<[^<>.]*>`)

// normalize makes every map entry placeholder the same.
func normalize(path string) string {
	return placeholder.ReplaceAllString(strings.TrimSpace(path), configfile.MapEntry)
}

func pathSet(keys []configfile.Key) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k.Path] = true
	}
	return out
}

// TestNormalize pins the placeholder rule the page relies on.
func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"components.<component>.schema.methods.<method>.type": "components.<name>.schema.methods.<name>.type",
		"modules.<name>.path": "modules.<name>.path",
		" port ":              "port",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
