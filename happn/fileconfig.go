package happn

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/gctune"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
)

// fileConfig is the happn-3 configuration object as JSON or YAML: the keys
// a happn-3 user already has in their config file. Its json tags are the
// keys a config file may have (configfile reports every other key).
type fileConfig struct {
	Name                                  string `json:"name" yaml:"name"`
	Host                                  string `json:"host" yaml:"host"`
	Port                                  *int   `json:"port" yaml:"port"`
	Secure                                bool   `json:"secure" yaml:"secure"`
	DisableDefaultAdminNetworkConnections bool   `json:"disableDefaultAdminNetworkConnections" yaml:"disableDefaultAdminNetworkConnections"`
	AllowNestedPermissions                bool   `json:"allowNestedPermissions" yaml:"allowNestedPermissions"`
	// observability of this project: metrics.enabled, metrics.addr,
	// log.format, log.level
	Metrics  metrics.Options `json:"metrics" yaml:"metrics"`
	Log      logging.Options `json:"log" yaml:"log"`
	GC       gctune.Options  `json:"gc" yaml:"gc"`
	Services struct {
		Data struct {
			Config struct {
				Datastores []store.DatastoreConfig `json:"datastores" yaml:"datastores"`
				Filename   string                  `json:"filename" yaml:"filename"`
				DBFile     string                  `json:"dbfile" yaml:"dbfile"`
			} `json:"config" yaml:"config"`
		} `json:"data" yaml:"data"`
		Security struct {
			Config security.Config `json:"config" yaml:"config"`
		} `json:"security" yaml:"security"`
		Session struct {
			Config struct {
				PrimusOpts struct {
					PingInterval *int64 `json:"pingInterval" yaml:"pingInterval"`
					MaxLength    *int64 `json:"maxLength" yaml:"maxLength"`
				} `json:"primusOpts" yaml:"primusOpts"`
				// limits of this project (milliseconds and bytes)
				MaxPending       *int     `json:"maxPending" yaml:"maxPending"`
				MaxUnfinished    *int64   `json:"maxUnfinished" yaml:"maxUnfinished"`
				FrameTimeout     *int64   `json:"frameTimeout" yaml:"frameTimeout"`
				HandshakeTimeout *int64   `json:"handshakeTimeout" yaml:"handshakeTimeout"`
				AllowedOrigins   []string `json:"allowedOrigins" yaml:"allowedOrigins"`
				TrustedProxies   []string `json:"trustedProxies" yaml:"trustedProxies"`
			} `json:"config" yaml:"config"`
		} `json:"session" yaml:"session"`
		Publisher struct {
			Config struct {
				PublicationOptions struct {
					AcknowledgeTimeout *int64 `json:"acknowledgeTimeout" yaml:"acknowledgeTimeout"`
				} `json:"publicationOptions" yaml:"publicationOptions"`
			} `json:"config" yaml:"config"`
		} `json:"publisher" yaml:"publisher"`
		Transport struct {
			Config TransportConfig `json:"config" yaml:"config"`
		} `json:"transport" yaml:"transport"`
		Connect struct {
			Config struct {
				Middleware struct {
					Security struct {
						Exclusions []string `json:"exclusions" yaml:"exclusions"`
					} `json:"security" yaml:"security"`
				} `json:"middleware" yaml:"middleware"`
			} `json:"config" yaml:"config"`
		} `json:"connect" yaml:"connect"`
		Protocol configfile.Unsupported `json:"protocol" yaml:"protocol" unsupported:"inbound and outbound protocol layers are not implemented"`
	} `json:"services" yaml:"services"`
}

// ParseConfig reads a happn-3 configuration (JSON, or YAML when format is
// "yaml"/"yml" or the data does not start with '{') into a Config. The
// default port is happn's 55000. Keys it does not use are logged as
// warnings on slog's default logger; read the file with [configfile] and
// [DecodeConfig] to handle them yourself.
func ParseConfig(data []byte, format string) (Config, error) {
	return configfile.ParseWith(data, format, DecodeConfig)
}

// DecodeConfig reads the happn-3 configuration object in section s of a
// config file (the whole file for a happn config, "happn" in a happner
// config). The default port is happn's 55000.
func DecodeConfig(s configfile.Section) (Config, error) {
	var fc fileConfig
	if err := s.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("happn: reading config: %w", err)
	}
	cfg := Config{
		Name:           fc.Name,
		Host:           fc.Host,
		Port:           55000,
		Secure:         fc.Secure,
		Security:       fc.Services.Security.Config,
		Datastores:     fc.Services.Data.Config.Datastores,
		Filename:       fc.Services.Data.Config.Filename,
		Transport:      fc.Services.Transport.Config,
		HTTPExclusions: fc.Services.Connect.Config.Middleware.Security.Exclusions,
		MetricsOptions: fc.Metrics,
		Log:            fc.Log,
		GC:             fc.GC,
	}
	if err := cfg.Log.Validate(); err != nil {
		return Config{}, fmt.Errorf("happn: reading config: %w", err)
	}
	cfg.AllowNestedPermissions = fc.AllowNestedPermissions
	if fc.DisableDefaultAdminNetworkConnections {
		cfg.Security.DisableDefaultAdminNetworkConnections = true
	}
	if fc.Port != nil {
		cfg.Port = *fc.Port
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return Config{}, fmt.Errorf("happn: reading config: port: %d is not a TCP port (0 to 65535; 0 picks a free one)", cfg.Port)
	}
	if lo := cfg.Security.AccountLockout; lo.Attempts < 0 {
		return Config{}, fmt.Errorf("happn: reading config: services.security.config.accountLockout.attempts: %d is negative", lo.Attempts)
	}
	if cfg.Filename == "" {
		cfg.Filename = fc.Services.Data.Config.DBFile
	}
	if p := fc.Services.Session.Config.PrimusOpts; p.PingInterval != nil {
		cfg.PingInterval = time.Duration(*p.PingInterval) * time.Millisecond
	}
	if p := fc.Services.Session.Config.PrimusOpts; p.MaxLength != nil {
		cfg.MaxLength = *p.MaxLength
	}
	sc := fc.Services.Session.Config
	if sc.MaxPending != nil {
		cfg.MaxPending = *sc.MaxPending
	}
	if sc.MaxUnfinished != nil {
		cfg.MaxUnfinished = *sc.MaxUnfinished
	}
	if sc.FrameTimeout != nil {
		cfg.FrameTimeout = time.Duration(*sc.FrameTimeout) * time.Millisecond
	}
	if sc.HandshakeTimeout != nil {
		cfg.HandshakeTimeout = time.Duration(*sc.HandshakeTimeout) * time.Millisecond
	}
	cfg.AllowedOrigins = sc.AllowedOrigins
	if _, err := parseTrustedProxies(sc.TrustedProxies); err != nil {
		return Config{}, fmt.Errorf("happn: reading config: services.session.config.%w", err)
	}
	cfg.TrustedProxies = sc.TrustedProxies
	if t := fc.Services.Publisher.Config.PublicationOptions.AcknowledgeTimeout; t != nil {
		cfg.AcknowledgeTimeout = time.Duration(*t) * time.Millisecond
	}
	return cfg, nil
}

// configFormat returns the format ParseConfig should assume for a file.
func configFormat(path string) string { return filepath.Ext(path) }

// ConfigFormat returns the format of a config file, from its extension.
func ConfigFormat(path string) string { return configFormat(path) }
