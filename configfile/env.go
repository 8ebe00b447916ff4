package configfile

import (
	"fmt"
	"strings"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in s. NAME is letters,
// digits and underscores, not starting with a digit; the default is used
// when the variable is unset or empty; "$${" writes a literal "${". It
// reports whether s had a reference.
func expandEnv(s string, lookup func(string) (string, bool)) (string, bool, error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	found := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), found, nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", found, fmt.Errorf("%q has ${ without a closing }", s[i:])
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		found = true
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			return "", found, fmt.Errorf("${%s} is not a variable reference: a name is letters, digits and _ (and ${NAME:-default} gives a default)", ref)
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			return "", found, fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(v)
	}
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
