// Package logging builds the structured logger of a happner-go node from
// its configuration (the "log" section of a config file: format text or
// json, level debug, info, warn or error) and masks secrets in the
// configuration summary a node logs when it starts.
//
// What a node logs, by level:
//   - error: failures that stop a part of the node (a listener, a store).
//   - warn: failed logins (user and remote address, never the password),
//     slow consumers disconnected, connections closed for breaking the
//     protocol, registry errors.
//   - info: the effective configuration at start (one line per layer,
//     secrets masked), listening addresses, cluster changes (status, peers
//     arriving and leaving).
//   - debug: each session's connect, login and disconnect (user, remote
//     address, session id) and each refused request.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strings"
)

// Formats of [Options.Format].
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Options are the log settings of a node's configuration.
type Options struct {
	// Format is "text" (default, logfmt-like key=value) or "json" (one
	// JSON object per line).
	Format string `json:"format,omitempty" yaml:"format,omitempty"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `json:"level,omitempty" yaml:"level,omitempty"`
}

// Validate checks the format and the level.
func (o Options) Validate() error {
	if _, err := o.level(); err != nil {
		return err
	}
	switch strings.ToLower(o.Format) {
	case "", FormatText, FormatJSON:
		return nil
	}
	return fmt.Errorf("logging: unknown log format %q: text or json", o.Format)
}

func (o Options) level() (slog.Level, error) {
	var l slog.Level
	if o.Level == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(o.Level)); err != nil {
		return l, fmt.Errorf("logging: unknown log level %q: debug, info, warn or error", o.Level)
	}
	return l, nil
}

// New returns a logger that writes to w in the format and from the level
// of o.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	level, _ := o.level()
	ho := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(o.Format, FormatJSON) {
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return slog.New(slog.NewTextHandler(w, ho)), nil
}

// Masked is what a secret is replaced with in a configuration summary.
const Masked = "***"

// secretKeys are the (lower-case) names of configuration members whose
// values are never logged.
var secretKeys = []string{"password", "secret", "privatekey", "key", "token", "passphrase", "cert"}

// urlKeys are members that may hold a URL with credentials.
var urlKeys = []string{"url", "connectionstring", "uri", "dsn"}

// Summary renders a configuration value as one line of JSON for the log,
// with secrets masked: members named like a password, secret, private
// key, key, token or certificate are replaced by "***" when set, and the
// password of URLs (connection strings) is masked. Durations read as Go
// writes them ("30s", "1m0s"), not as counts of nanoseconds.
func Summary(v any) string {
	b, err := json.Marshal(readable(reflect.ValueOf(v), 0))
	if err != nil {
		return fmt.Sprintf("unprintable configuration: %v", err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return string(b)
	}
	out, err := json.Marshal(mask("", tree))
	if err != nil {
		return string(b)
	}
	return string(out)
}

// mask masks the secrets of a decoded JSON value found under key.
func mask(key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = mask(k, x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = mask(key, x)
		}
		return t
	case string:
		k := strings.ToLower(key)
		if t == "" || strings.HasSuffix(k, "path") || strings.HasSuffix(k, "file") {
			return t // a file name is not the secret it holds
		}
		for _, s := range secretKeys {
			if strings.Contains(k, s) {
				return Masked
			}
		}
		for _, u := range urlKeys {
			if strings.Contains(k, u) {
				return maskURL(t)
			}
		}
	}
	return v
}

// dsnPassword is the password of a key=value connection string.
var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// maskURL masks the password of a URL ("postgres://u:***@host/db") or of
// a key=value connection string ("host=db password=***").
func maskURL(s string) string {
	if dsnPassword.MatchString(s) {
		return dsnPassword.ReplaceAllString(s, "${1}"+Masked)
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	// url escapes '*' in a password: put the mask in after
	const placeholder = "masked-password"
	u.User = url.UserPassword(u.User.Username(), placeholder)
	return strings.Replace(u.String(), ":"+placeholder+"@", ":"+Masked+"@", 1)
}
