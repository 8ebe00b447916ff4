package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// Environment variables read by the command line.
const (
	// EnvStrict set to 1 (or true) turns config warnings into errors.
	EnvStrict = "HAPPNER_STRICT"
	// EnvAdminPassword is the password of _ADMIN when a node creates it.
	EnvAdminPassword = "HAPPNER_ADMIN_PASSWORD"
	// EnvPassword is the password operator commands log in with.
	EnvPassword = "HAPPNER_PASSWORD"
)

// fileKind is what a config file describes.
type fileKind int

const (
	happnFile  fileKind = iota // a happn server
	meshFile                   // a happner mesh
	memberFile                 // a happner-cluster member
)

func (k fileKind) String() string {
	switch k {
	case memberFile:
		return "a happner-cluster member config"
	case meshFile:
		return "a happner (mesh) config"
	}
	return "a happn server config"
}

// meshKeys are top-level keys only a happner config has.
var meshKeys = []string{"happn", "modules", "components", "domain", "web", "endpoints", "plugins",
	"listenFirst", "deferListen", "startTimeout", "authorityDelegationOn", "directResponses",
	"ignoreDependenciesOnStartup"}

// kindOf tells what a document describes: a member when it has the
// membership service or a cluster section, a mesh when it has any key only
// happner configs have, else a happn server.
func kindOf(doc *configfile.Document) fileKind {
	root := doc.Root()
	if root.Has("happn", "services", "membership") || root.Has("cluster") {
		return memberFile
	}
	for _, k := range meshKeys {
		if root.Has(k) {
			return meshFile
		}
	}
	return happnFile
}

// configFlags are the flags every command that reads a config file has.
type configFlags struct {
	path              string
	strict            bool
	adminPassword     string
	adminPasswordFile string
}

// load reads the config file.
func (f *configFlags) load() (*configfile.Document, error) {
	doc, err := configfile.Load(f.path, configfile.Options{})
	if err != nil {
		return nil, &usageError{err: err}
	}
	return doc, nil
}

// check logs every key of doc that does nothing, one line each, and fails
// in strict mode.
func (f *configFlags) check(doc *configfile.Document, log *slog.Logger) error {
	problems := doc.Problems()
	for _, p := range problems {
		log.Warn(p.String())
	}
	if len(problems) > 0 && f.isStrict() {
		return usage("%s: %d config key(s) not used, refused in strict mode (--strict or %s=1)", f.path, len(problems), EnvStrict)
	}
	return nil
}

func (f *configFlags) isStrict() bool {
	if f.strict {
		return true
	}
	v := strings.ToLower(os.Getenv(EnvStrict))
	return v == "1" || v == "true" || v == "yes"
}

// adminPasswordOverride returns the admin password the command line or
// the environment sets: --admin-password-file, --admin-password, then
// HAPPNER_ADMIN_PASSWORD; "" when none does.
func (f *configFlags) adminPasswordOverride() (string, error) {
	if f.adminPasswordFile != "" {
		return readSecret(f.adminPasswordFile, "--admin-password-file")
	}
	if f.adminPassword != "" {
		return f.adminPassword, nil
	}
	return os.Getenv(EnvAdminPassword), nil
}

// applyAdminPassword makes pw the password _ADMIN is created with.
func applyAdminPassword(cfg *happn.Config, pw string) {
	if pw == "" {
		return
	}
	cfg.AdminPassword = pw
	cfg.Security.AdminPassword = pw
	if cfg.Security.AdminUser == nil {
		cfg.Security.AdminUser = &security.AdminUserConfig{}
	}
	cfg.Security.AdminUser.Password = pw
}

// readSecret reads a password file: its first line, without the line end.
func readSecret(path, flag string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usage("%s: %w", flag, err)
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", usage("%s: %s is empty", flag, path)
	}
	return s, nil
}

// wrongCommand is the error for a file given to the command that does not
// run what it describes.
func wrongCommand(program, path string, kind fileKind, use, why string) error {
	return &usageError{err: errors.New(fmt.Sprintf("%s is %s%s: run it with `%s %s --config %s`", path, kind, why, program, use, path))}
}
