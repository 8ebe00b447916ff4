package happn

import (
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/datastore"
)

// openDatastores opens the configured datastores. With none configured it
// is one in-memory store, or one bolt file when filename is set; a single
// datastore without patterns is used directly, without a router. With
// metrics on, each datastore reports its operations under its name.
func openDatastores(cfgs []store.DatastoreConfig, filename string, m *metrics.Metrics) (store.Store, error) {
	if len(cfgs) == 0 {
		cfgs = store.DefaultDatastores(filename)
	}
	if len(cfgs) == 1 && len(cfgs[0].Patterns) == 0 {
		st, err := datastore.OpenOne(cfgs[0], datastore.Options{})
		if err != nil {
			return nil, err
		}
		name := cfgs[0].Name
		if name == "" {
			name = "default"
		}
		return InstrumentStore(m, st, name), nil
	}
	return store.OpenRouter(cfgs, func(c store.DatastoreConfig) (store.Store, error) {
		st, err := datastore.OpenOne(c, datastore.Options{})
		if err != nil {
			return nil, err
		}
		return InstrumentStore(m, st, c.Name), nil
	})
}
