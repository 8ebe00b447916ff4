package configfile_test

import (
	"fmt"

	"github.com/happner-go/happner/configfile"
)

// A config struct's json tags are the keys a file may have; everything
// else is reported, with a near name when there is one.
func ExampleParse() {
	type server struct {
		Host string `json:"host"`
		Port int    `json:"port"`
	}
	file := `
host: ${HOST:-127.0.0.1}
port: 55e3
prot: 1
`
	doc, err := configfile.Parse([]byte(file), "server.yaml", configfile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var s server
	if err := doc.Root().Decode(&s); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Host, s.Port)
	for _, p := range doc.Problems() {
		fmt.Println(p)
	}
	// Output:
	// 127.0.0.1 55000
	// config: unknown key prot (did you mean port?) at server.yaml:4:1
}

// Errors name the file, line and column, and the key path.
func ExampleSection_Decode() {
	doc, _ := configfile.Parse([]byte(`{"port": "fast"}`), "server.json", configfile.Options{})
	var s struct {
		Port int `json:"port"`
	}
	fmt.Println(doc.Root().Decode(&s))
	// Output:
	// server.json:1:10: port: expected a whole number, found the string "fast"
}

// KnownKeys lists every key a config reader has a place for: what a
// reference page must document, and what a file may have without a
// warning.
func ExampleKnownKeys() {
	type component struct {
		Version string `json:"version"`
	}
	type file struct {
		Port       int                    `json:"port"`
		Components map[string]component   `json:"components"`
		Plugins    configfile.Unsupported `json:"plugins" unsupported:"plugins are not implemented"`
	}
	decode := func(s configfile.Section) (file, error) {
		var f file
		return f, s.Decode(&f)
	}
	for _, k := range configfile.KnownKeys(decode) {
		if k.Unsupported != "" {
			fmt.Printf("%s (%s)\n", k.Path, k.Unsupported)
			continue
		}
		fmt.Println(k.Path)
	}
	// Output:
	// components.<name>.version
	// plugins (plugins are not implemented)
	// port
}
