package configfile

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

type keysItem struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

type keysComponent struct {
	Version string `json:"version"`
	Schema  struct {
		Methods map[string]struct {
			Parameters []keysItem `json:"parameters"`
		} `json:"methods"`
	} `json:"schema"`
	Events map[string]any `json:"events"`
}

type keysFile struct {
	Port       *int                     `json:"port"`
	Tags       []string                 `json:"tags"`
	Counts     map[string]int           `json:"counts"`
	Components map[string]keysComponent `json:"components"`
	Stores     []keysItem               `json:"stores"`
	Plugins    Unsupported              `json:"plugins" unsupported:"plugins are not implemented"`
	legacy     `unsupported:"the old protocol is gone"`
}

type legacy struct {
	Seed Unsupported `json:"seed"`
}

// decodeKeysFile decodes the whole file and, as the config packages do,
// a second struct for one section and a key named through Child.
func decodeKeysFile(s Section) (keysFile, error) {
	var f keysFile
	if err := s.Decode(&f); err != nil {
		return f, err
	}
	var extra struct {
		Timeout *int `json:"timeout"`
	}
	if err := s.Child("happn").Decode(&extra); err != nil {
		return f, err
	}
	_ = s.Child("happn").Child("named") // known, never read: not a key
	if f.Port != nil && *f.Port < 0 {
		return f, errors.New("port must not be negative")
	}
	return f, nil
}

func TestKnownKeysWalksStructsMapsAndLists(t *testing.T) {
	want := []Key{
		{Path: "components.<name>.events"},
		{Path: "components.<name>.schema.methods.<name>.parameters[].name"},
		{Path: "components.<name>.schema.methods.<name>.parameters[].value"},
		{Path: "components.<name>.version"},
		{Path: "counts"},
		{Path: "happn.timeout"},
		{Path: "plugins", Unsupported: "plugins are not implemented"},
		{Path: "port"},
		{Path: "seed", Unsupported: "the old protocol is gone"},
		{Path: "stores[].name"},
		{Path: "stores[].value"},
		{Path: "tags"},
	}
	if got := KnownKeys(decodeKeysFile); !reflect.DeepEqual(got, want) {
		t.Fatalf("KnownKeys:\n got %v\nwant %v", got, want)
	}
}

// Every key KnownKeys lists is one a file may have without a warning.
func TestKnownKeysAreNotReported(t *testing.T) {
	file := `{"port": 1, "tags": ["a"], "counts": {"x": 1},
	 "components": {"c": {"version": "1.0.0", "events": {"e": {}},
	   "schema": {"methods": {"m": {"parameters": [{"name": "a", "value": 1}]}}}}},
	 "stores": [{"name": "s", "value": {"any": "thing"}}],
	 "happn": {"timeout": 5}}`
	d, err := Parse([]byte(file), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeKeysFile(d.Root()); err != nil {
		t.Fatal(err)
	}
	if ps := d.Problems(); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
}
