package happn

import (
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/bolt"
	"github.com/happner-go/happner/store/memory"
)

// openDatastores opens the configured datastores behind a router. With no
// datastores configured it is one in-memory store, or one bolt file when
// filename is set.
func openDatastores(cfgs []store.DatastoreConfig, filename string) (store.Store, error) {
	if len(cfgs) == 0 {
		cfgs = store.DefaultDatastores(filename)
	}
	if len(cfgs) == 1 && len(cfgs[0].Patterns) == 0 {
		return openDatastore(cfgs[0])
	}
	return store.OpenRouter(cfgs, openDatastore)
}

func openDatastore(c store.DatastoreConfig) (store.Store, error) {
	kind, err := store.ResolveProvider(c)
	if err != nil {
		return nil, err
	}
	if kind == store.ProviderBolt {
		return bolt.Open(c.Filename(), bolt.Options{})
	}
	return memory.New(), nil
}
