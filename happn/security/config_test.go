package security

import (
	"context"
	"encoding/json"
	"testing"

	"go.yaml.in/yaml/v3"
)

const yamlConfig = `
adminUser:
  password: fromyaml
defaultNonceTTL: 5000
accountLockout:
  attempts: 2
  retryInterval: 1 hour
profiles:
  - name: p
    session:
      user.username: yamluser
    policy:
      ttl: 2 days
      inactivity_threshold: 100
`

const jsonConfig = `{"adminUser":{"password":"fromjson"},"defaultNonceTTL":"5 secs",
 "accountLockout":{"attempts":2,"retryInterval":3600000},
 "profiles":[{"name":"p","session":{"user.username":"jsonuser"},"policy":{"ttl":"2 days","inactivity_threshold":100}}]}`

func TestConfigFiles(t *testing.T) {
	var y, j Config
	if err := yaml.Unmarshal([]byte(yamlConfig), &y); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(jsonConfig), &j); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{"yamluser": y, "jsonuser": j} {
		if c.DefaultNonceTTL.Milliseconds() != 5000 || c.AccountLockout.Attempts != 2 || c.AccountLockout.RetryInterval.Milliseconds() != 3600000 {
			t.Fatalf("%s: %+v", name, c)
		}
		c.PBKDF2Iterations = 10
		s, _ := newTestService(t, c)
		mustUser(t, s, name, "pw", "")
		sess := mustLogin(t, s, name, "pw")
		if sess.Policy[1].TTL.Milliseconds() != 2*86400000 || sess.Policy[1].InactivityThreshold.Milliseconds() != 100 {
			t.Fatalf("%s: profile not applied: %+v", name, sess.Policy)
		}
		pw := "fromyaml"
		if name == "jsonuser" {
			pw = "fromjson"
		}
		if _, err := s.Login(context.Background(), LoginRequest{Username: "_ADMIN", Password: pw, Type: 1}); err != nil {
			t.Fatalf("%s: adminUser.password not used: %v", name, err)
		}
	}
}
