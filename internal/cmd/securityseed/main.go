// Command securityseed creates groups (with permissions) and users, linked
// to their groups, through the Go security service on the datastores of a
// happn config file, then exits. The interop migration tests use it to
// have a Go node write security records that the npm happn-3 server must
// then read (the npm side seeds the same file through happn-3's own
// security service, see interop/test/helpers/reference-server.js).
//
//	securityseed -config happn.json -seed seed.json
//
// seed.json:
//
//	{"groups": [{"name": "operators", "custom_data": {}, "permissions": {"/data/*": {"actions": ["get"]}}}],
//	 "users":  [{"username": "olivia", "password": "pw", "custom_data": {}, "groups": ["operators"]}]}
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// seed is what the seed file holds.
type seed struct {
	Groups []security.Group `json:"groups"`
	Users  []struct {
		security.User
		// GroupNames are the groups the user is linked to.
		GroupNames []string `json:"groups"`
	} `json:"users"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "securityseed:", err)
		os.Exit(1)
	}
}

func run() error {
	configFile := flag.String("config", "", "happn config file (JSON or YAML) naming the datastores")
	seedFile := flag.String("seed", "", "seed file: groups and users (JSON)")
	flag.Parse()
	if *configFile == "" || *seedFile == "" {
		return fmt.Errorf("-config and -seed are required")
	}
	raw, err := os.ReadFile(*configFile)
	if err != nil {
		return err
	}
	cfg, err := happn.ParseConfig(raw, strings.TrimPrefix(filepath.Ext(*configFile), "."))
	if err != nil {
		return err
	}
	raw, err = os.ReadFile(*seedFile)
	if err != nil {
		return err
	}
	var sd seed
	if err := json.Unmarshal(raw, &sd); err != nil {
		return fmt.Errorf("%s: %w", *seedFile, err)
	}
	srv, err := happn.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer srv.Stop(ctx)
	sec := srv.Security()
	for _, g := range sd.Groups {
		if _, err := sec.UpsertGroup(ctx, g, security.UpsertOptions{}); err != nil {
			return fmt.Errorf("group %s: %w", g.Name, err)
		}
	}
	for _, u := range sd.Users {
		if _, err := sec.UpsertUser(ctx, u.User, security.UpsertOptions{}); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
		for _, g := range u.GroupNames {
			if err := sec.LinkGroup(ctx, g, u.Username, nil); err != nil {
				return fmt.Errorf("linking %s to %s: %w", u.Username, g, err)
			}
		}
	}
	return nil
}
