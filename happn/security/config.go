package security

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time read the way happn reads its time settings:
// a JSON/YAML number is milliseconds, a string is either a number of
// milliseconds or an `ms`-style phrase ("7 days", "1 hour", "10s", "500ms").
// "Infinity" (and JSON null) read as 0, which every setting of this package
// treats as "no limit".
type Duration time.Duration

// Milliseconds returns d in whole milliseconds.
func (d Duration) Milliseconds() int64 { return time.Duration(d).Milliseconds() }

// MarshalJSON writes d as a number of milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, d.Milliseconds(), 10), nil
}

// UnmarshalJSON reads a number of milliseconds, an ms-string or null.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*d = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return fmt.Errorf("security: duration: %w", err)
		}
		return d.UnmarshalText([]byte(str))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("security: invalid duration %s: %w", s, err)
	}
	*d = msDuration(f)
	return nil
}

// UnmarshalText reads a number of milliseconds or an ms-string; it makes
// Duration usable from YAML and flags too.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

var msPhrase = regexp.MustCompile(`(?i)^(-?(?:\d+)?\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$`)

// ParseDuration parses happn's time strings: a plain number is milliseconds,
// otherwise a number followed by a unit as the npm `ms` package accepts
// ("2 days", "1h", "30 secs"). "Infinity" returns 0 (no limit).
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "infinity") {
		return 0, nil
	}
	m := msPhrase.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("security: invalid duration %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("security: invalid duration %q: %w", s, err)
	}
	unit := strings.ToLower(m[2])
	mult := 1.0
	switch {
	case unit == "" || strings.HasPrefix(unit, "ms") || strings.HasPrefix(unit, "milli"):
		mult = 1
	case strings.HasPrefix(unit, "s"):
		mult = 1000
	case strings.HasPrefix(unit, "m"):
		mult = 60 * 1000
	case strings.HasPrefix(unit, "h"):
		mult = 3600 * 1000
	case strings.HasPrefix(unit, "d"):
		mult = 24 * 3600 * 1000
	case strings.HasPrefix(unit, "w"):
		mult = 7 * 24 * 3600 * 1000
	case strings.HasPrefix(unit, "y"):
		mult = 365.25 * 24 * 3600 * 1000
	}
	return msDuration(n * mult), nil
}

func msDuration(ms float64) Duration {
	if math.IsInf(ms, 0) || math.IsNaN(ms) || ms <= 0 {
		return 0
	}
	return Duration(time.Duration(ms * float64(time.Millisecond)))
}

// LockoutConfig is happn's security.config.accountLockout.
type LockoutConfig struct {
	// Enabled turns lockout on; nil means the default, true.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	// Attempts is the number of failed logins that lock an account (default 4).
	Attempts int `json:"attempts,omitempty" yaml:"attempts,omitempty"`
	// RetryInterval is how long a lock (and the failure count) lasts,
	// refreshed by each failure (default 10 minutes).
	RetryInterval Duration `json:"retryInterval,omitempty" yaml:"retryInterval,omitempty"`
}

// Profile attaches a policy to the sessions its Session criteria match
// (happn security.config.profiles[]).
type Profile struct {
	// Name identifies the profile in logs.
	Name string `json:"name" yaml:"name"`
	// Session is a mongo-style criteria object evaluated over the session
	// document {id, info, user:{username, groups, custom_data}, timestamp,
	// origin, type, parentId}.
	Session json.RawMessage `json:"session" yaml:"-"`
	// SessionYAML receives the criteria when the config comes from YAML;
	// it is converted to Session by the service.
	SessionYAML map[string]any `json:"-" yaml:"session"`
	// Policy is what the matching sessions get.
	Policy Policy `json:"policy" yaml:"policy"`
}

// Policy is the per-session-type security policy (§4.8).
type Policy struct {
	// TTL is the session/token lifetime counted from the session timestamp;
	// 0 means no expiry.
	TTL Duration `json:"ttl" yaml:"ttl"`
	// InactivityThreshold ends a session idle for longer; 0 (Infinity)
	// means off.
	InactivityThreshold Duration `json:"inactivity_threshold" yaml:"inactivity_threshold"`
	// UsageLimit is the number of authorised requests a session may make;
	// 0 means unlimited.
	UsageLimit int64 `json:"usage_limit,omitempty" yaml:"usage_limit,omitempty"`
	// Permissions, when set, is the only thing that decides the session's
	// requests ({path:{actions:[…]}}).
	Permissions map[string]PermissionRule `json:"permissions,omitempty" yaml:"permissions,omitempty"`
	// DisallowTokenLogins refuses logins with this session's token.
	DisallowTokenLogins bool `json:"disallowTokenLogins,omitempty" yaml:"disallowTokenLogins,omitempty"`
	// LockTokenToOrigin accepts the token only on the server that minted it.
	LockTokenToOrigin bool `json:"lockTokenToOrigin,omitempty" yaml:"lockTokenToOrigin,omitempty"`
	// SourceIPWhitelist restricts logins to these source addresses.
	SourceIPWhitelist []string `json:"sourceIPWhitelist,omitempty" yaml:"sourceIPWhitelist,omitempty"`
}

// MarshalJSON writes the policy as happn does: durations in ms, an
// inactivity threshold of Infinity as null.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	out := struct {
		plain
		InactivityThreshold *int64 `json:"inactivity_threshold"`
	}{plain: plain(p)}
	if p.InactivityThreshold > 0 {
		ms := p.InactivityThreshold.Milliseconds()
		out.InactivityThreshold = &ms
	}
	return json.Marshal(out)
}

// Config is happn's services.security.config (plus the server name).
type Config struct {
	// AdminPassword is the password of _ADMIN when the user is first created
	// (adminUser.password, default "happn").
	AdminPassword string `json:"adminPassword,omitempty" yaml:"adminPassword,omitempty"`
	// AdminPublicKey is _ADMIN's publicKey for digest logins (adminUser.publicKey).
	AdminPublicKey string `json:"adminPublicKey,omitempty" yaml:"adminPublicKey,omitempty"`
	// AdminUser is happn's own key for the two settings above
	// ({"adminUser":{"password","publicKey"}}); it fills them when they are empty.
	AdminUser *AdminUserConfig `json:"adminUser,omitempty" yaml:"adminUser,omitempty"`
	// SessionTokenSecret, when set, replaces the persisted token secret.
	SessionTokenSecret string `json:"sessionTokenSecret,omitempty" yaml:"sessionTokenSecret,omitempty"`
	// AllowAnonymousAccess creates _ANONYMOUS and lets it log in without a password.
	AllowAnonymousAccess bool `json:"allowAnonymousAccess,omitempty" yaml:"allowAnonymousAccess,omitempty"`
	// DisableDefaultAdminNetworkConnections refuses _ADMIN logins that are
	// not local to the process.
	DisableDefaultAdminNetworkConnections bool `json:"disableDefaultAdminNetworkConnections,omitempty" yaml:"disableDefaultAdminNetworkConnections,omitempty"`
	// AccountLockout configures locking accounts after failed logins.
	AccountLockout LockoutConfig `json:"accountLockout" yaml:"accountLockout"`
	// PBKDF2Iterations is the iteration count of new password hashes (default 10000).
	PBKDF2Iterations int `json:"pbkdf2Iterations,omitempty" yaml:"pbkdf2Iterations,omitempty"`
	// DefaultNonceTTL is how long a digest-login nonce lives (default 60 s).
	DefaultNonceTTL Duration `json:"defaultNonceTTL,omitempty" yaml:"defaultNonceTTL,omitempty"`
	// LockTokenToLoginType requires token logins to use the token's session
	// type (nil means the default, true).
	LockTokenToLoginType *bool `json:"lockTokenToLoginType,omitempty" yaml:"lockTokenToLoginType,omitempty"`
	// LockTokenToUserID requires the token's userid to be the user's current one.
	LockTokenToUserID bool `json:"lockTokenToUserId,omitempty" yaml:"lockTokenToUserId,omitempty"`
	// Profiles are matched before the built-in ones, first match per type.
	Profiles []Profile `json:"profiles,omitempty" yaml:"profiles,omitempty"`
	// AllowLogoutOverHTTP enables /auth/logout.
	AllowLogoutOverHTTP bool `json:"allowLogoutOverHttp,omitempty" yaml:"allowLogoutOverHttp,omitempty"`
	// AllowTTL0Revocations allows revoking tokens without a TTL, which stay
	// revoked forever (nil means the default, true).
	AllowTTL0Revocations *bool `json:"allowTTL0Revocations,omitempty" yaml:"allowTTL0Revocations,omitempty"`
	// AuditDelegateGroup is the group whose members may act on behalf of
	// other users (default "_MESH_DELEGATE").
	AuditDelegateGroup string `json:"delegateGroup,omitempty" yaml:"delegateGroup,omitempty"`
	// CookieName is the cookie that carries the token (default "happn_token").
	CookieName string `json:"cookieName,omitempty" yaml:"cookieName,omitempty"`
	// Name is the server name, used as the origin of minted tokens.
	Name string `json:"-" yaml:"-"`
}

// AdminUserConfig is happn's security.config.adminUser.
type AdminUserConfig struct {
	Password  string `json:"password,omitempty" yaml:"password,omitempty"`
	PublicKey string `json:"publicKey,omitempty" yaml:"publicKey,omitempty"`
}

// Defaults.
const (
	DefaultAdminPassword    = "happn"
	DefaultPBKDF2Iterations = 10000
	DefaultNonceTTL         = Duration(60 * time.Second)
	DefaultLockoutAttempts  = 4
	DefaultLockoutRetry     = Duration(10 * time.Minute)
	DefaultDelegateGroup    = "_MESH_DELEGATE"
	DefaultCookieName       = "happn_token"
)

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// withDefaults returns cfg with every unset field given happn's default.
func (cfg Config) withDefaults() Config {
	if cfg.AdminUser != nil {
		if cfg.AdminPassword == "" {
			cfg.AdminPassword = cfg.AdminUser.Password
		}
		if cfg.AdminPublicKey == "" {
			cfg.AdminPublicKey = cfg.AdminUser.PublicKey
		}
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = DefaultAdminPassword
	}
	if cfg.PBKDF2Iterations <= 0 {
		cfg.PBKDF2Iterations = DefaultPBKDF2Iterations
	}
	if cfg.DefaultNonceTTL <= 0 {
		cfg.DefaultNonceTTL = DefaultNonceTTL
	}
	if cfg.AccountLockout.Attempts <= 0 {
		cfg.AccountLockout.Attempts = DefaultLockoutAttempts
	}
	if cfg.AccountLockout.RetryInterval <= 0 {
		cfg.AccountLockout.RetryInterval = DefaultLockoutRetry
	}
	if cfg.AuditDelegateGroup == "" {
		cfg.AuditDelegateGroup = DefaultDelegateGroup
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	return cfg
}
