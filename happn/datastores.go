package happn

import (
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/datastore"
)

// openDatastores opens the configured datastores. With none configured it
// is one in-memory store, or one bolt file when filename is set; a single
// datastore without patterns is used directly, without a router.
func openDatastores(cfgs []store.DatastoreConfig, filename string) (store.Store, error) {
	if len(cfgs) == 0 {
		cfgs = store.DefaultDatastores(filename)
	}
	if len(cfgs) == 1 && len(cfgs[0].Patterns) == 0 {
		return datastore.OpenOne(cfgs[0], datastore.Options{})
	}
	return datastore.Open(cfgs, datastore.Options{})
}
