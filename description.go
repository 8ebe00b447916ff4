package happner

import "encoding/json"

// Description is the mesh description stored at /mesh/schema/description:
// what clients build their API from.
type Description struct {
	// Name is the mesh's domain, used in every exchange and event path.
	Name string `json:"name"`
	// Initializing is true until every component is created.
	Initializing bool `json:"initializing"`
	// Brokered marks a description served by a cluster broker.
	Brokered bool `json:"brokered"`
	// SetOptions are the exchange request options; Timeout is the client
	// side RPC timeout in milliseconds.
	SetOptions SetOptions `json:"setOptions"`
	// Components describes every component by name.
	Components map[string]*ComponentDescription `json:"components"`
}

// SetOptions are happn.setOptions: the options of exchange requests and
// replies, published in the description.
type SetOptions struct {
	// Timeout is the RPC timeout in milliseconds (default 10000).
	Timeout int `json:"timeout"`
	// NoStore is always true for exchange messages.
	NoStore bool `json:"noStore"`
}

// ComponentDescription describes one component.
type ComponentDescription struct {
	// Name is the component's name.
	Name string `json:"name"`
	// Version is the component's (module's) version.
	Version string `json:"version"`
	// Methods describes the exposed methods by wire name.
	Methods map[string]*MethodDescription `json:"methods"`
	// Routes lists the web routes ("/<component>/<route>": {type}).
	Routes map[string]any `json:"routes"`
	// Events is the component config's free-form events section.
	Events map[string]any `json:"events"`
	// Data is the component config's data section.
	Data map[string]any `json:"data"`
}

// MethodDescription describes one method as happner-2 does.
type MethodDescription struct {
	// IsAsyncMethod is true for methods that return their result (Go
	// methods always do); false for callback-style methods.
	IsAsyncMethod bool `json:"isAsyncMethod"`
	// Parameters are the method's parameters, without $happn/$origin.
	Parameters []Param `json:"parameters"`
	// Type is "sync" or "sync-promise" for such methods (informational).
	Type string `json:"type,omitempty"`
	// Alias is a second name the method can be called by.
	Alias string `json:"alias,omitempty"`
}

// Param is a method parameter in a description or schema.
type Param struct {
	// Name is the parameter's name (REST maps arguments by it).
	Name string `json:"name"`
	// Type is "callback" for a callback parameter, else free-form.
	Type string `json:"type,omitempty"`
	// Required marks a parameter MeshClients check before sending.
	Required bool `json:"required,omitempty"`
	// Value is the literal passed to init/start/stop methods.
	Value json.RawMessage `json:"value,omitempty"`
}

// MeshConfigRecord is the record at /mesh/schema/config.
type MeshConfigRecord struct {
	// Name is the domain.
	Name string `json:"name"`
	// Version is the happner version the mesh reports.
	Version string `json:"version"`
	// Happn and Datalayer describe the data layer (same content).
	Happn HappnInfo `json:"happn"`
	// Datalayer repeats Happn (happner-2 writes both).
	Datalayer HappnInfo `json:"datalayer"`
}

// HappnInfo is the data layer part of /mesh/schema/config.
type HappnInfo struct {
	// Port is the port the mesh listens on.
	Port int `json:"port"`
	// Secure is true on secure meshes (MeshClients read it).
	Secure bool `json:"secure"`
	// SetOptions are the exchange request options.
	SetOptions SetOptions `json:"setOptions"`
}

// Version is the happner-2 version this mesh reports in /mesh/schema/config
// and as the default version of system components.
const Version = "13.1.1"
