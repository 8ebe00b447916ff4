// Package datastore opens the datastores of a happn configuration
// (services.data.config.datastores) with the providers of this module and
// returns the [store.Router] over them.
package datastore

import (
	"strings"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/bolt"
	"github.com/happner-go/happner/store/memory"
	"github.com/happner-go/happner/store/mongo"
	"github.com/happner-go/happner/store/postgres"
)

// postgresNames are the provider names that open the PostgreSQL store,
// with settings {url | connectionString, table, poolSize}.
var postgresNames = map[string]bool{"postgres": true, "postgresql": true, "pg": true}

// mongoNames are the provider names that open the MongoDB store, with
// happn-db-provider-mongo's settings {url, database, collection} and
// poolSize: the npm provider's name, its former name (happner-cluster's
// README), and short ones.
var mongoNames = map[string]bool{"mongo": true, "mongodb": true, "happn-db-provider-mongo": true, "happn-service-mongo-2": true}

// Options tune [Open].
type Options struct {
	// Providers open datastores whose provider name (compared
	// case-insensitively) is a key, ahead of the built-in providers; this
	// is how a shared-database provider such as PostgreSQL is plugged in.
	Providers map[string]store.Opener
	// Bolt are the options of every bolt datastore.
	Bolt bolt.Options
}

// Open opens every configured datastore and routes between them; an empty
// cfgs opens one in-memory default datastore.
func Open(cfgs []store.DatastoreConfig, opts Options) (*store.Router, error) {
	return store.OpenRouter(cfgs, func(c store.DatastoreConfig) (store.Store, error) {
		return OpenOne(c, opts)
	})
}

// OpenOne opens the store of one datastore configuration.
func OpenOne(c store.DatastoreConfig, opts Options) (store.Store, error) {
	name := strings.ToLower(strings.TrimSpace(c.Provider))
	for k, open := range opts.Providers {
		if strings.ToLower(k) == name {
			return open(c)
		}
	}
	if postgresNames[name] {
		return postgres.Opener(postgres.Options{})(c)
	}
	if mongoNames[name] {
		return mongo.Opener(mongo.Options{})(c)
	}
	kind, err := store.ResolveProvider(c)
	if err != nil {
		return nil, err
	}
	if kind == store.ProviderBolt {
		return bolt.Open(c.Filename(), opts.Bolt)
	}
	return memory.New(), nil
}
