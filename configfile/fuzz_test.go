package configfile_test

import (
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/happn"
)

// FuzzDecodeConfigs reads arbitrary files as each kind of config (happn,
// happner, happner-cluster): an error or a config, never a panic.
func FuzzDecodeConfigs(f *testing.F) {
	f.Add([]byte(`{"name":"m","happn":{"port":55001,"services":{"membership":{"config":{"deploymentId":"d","pulseIntervalMs":60e3}}}},"modules":{"calc":{}},"components":{"calc":{"dependencies":{"x":{"version":"^1"}}}}}`), "json")
	f.Add([]byte("name: m\nhappn:\n  port: ${PORT:-55000}\ncomponents:\n  calc: {}\n"), "yaml")
	f.Add([]byte(`{"port":1,"services":{"session":{"config":{"frameTimeout":1e3}}}}`), "json")
	env := func(name string) (string, bool) { return "1", name == "PORT" }
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		doc, err := configfile.Parse(data, "", configfile.Options{Format: format, LookupEnv: env})
		if err != nil {
			return
		}
		_, _ = happn.DecodeConfig(doc.Root())
		_, _ = happner.DecodeConfig(doc.Root())
		_, _ = cluster.DecodeConfig(doc.Root())
	})
}
