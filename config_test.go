package happner

import (
	"slices"
	"strings"
	"testing"

	"github.com/happner-go/happner/configfile"
)

// Every key of a happner config is read by one of the mesh, happn and
// happner-in-happn decoders; what none reads is reported.
func TestDecodeConfigKnowsEveryLayersKeys(t *testing.T) {
	yml := `name: shop
happn:
  secure: true
  setOptions: {timeout: 15e3}
  services:
    security:
      config:
        adminUser: {password: secret}
    data:
      config:
        datastores: [{name: mem, provider: memory, isDefault: true}]
    protocol:
      config: {inboundLayers: []}
  adminPasword: x
modules:
  orders: {version: 2.0.0}
components:
  pricing: {}
  orders:
    schema:
      methods:
        place: {parameters: [{name: item}]}
plugins: []
`
	doc, err := configfile.Parse([]byte(yml), "mesh.yaml", configfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := DecodeConfig(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SetOptions.Timeout != 15000 || !cfg.Happn.Secure || cfg.Happn.Security.AdminUser.Password != "secret" ||
		!slices.Equal(cfg.ComponentOrder, []string{"pricing", "orders"}) || cfg.Modules["orders"].Version != "2.0.0" {
		t.Fatalf("decoded %+v", cfg)
	}
	var got []string
	for _, p := range doc.Problems() {
		got = append(got, p.String())
	}
	want := []string{
		"config: happn.services.protocol is not used: inbound and outbound protocol layers are not implemented at mesh.yaml:12:5",
		"config: unknown key happn.adminPasword (did you mean happn.adminPassword?) at mesh.yaml:14:3",
		"config: plugins is not used: plugins are not implemented at mesh.yaml:23:1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
