// Package happner is the happner mesh: components that expose methods, emit
// events and keep data, called from other components and from clients over
// the happn protocol, wire-compatible with the npm happner-2 MeshClient and
// happner-client.
//
// A mesh is created from a [Config] with [Create]. Each component is a Go
// value whose exported methods are its API: method Record is called as
// "record" on the wire. A method may take a first parameter *[Happn] (the
// component's view of the mesh: exchange, events, data, origin, context),
// then any JSON-decodable parameters, and may return an error, a value and
// an error, or several values. Callers receive the results as happner does:
// the callback arguments [null, r1, r2, …].
//
// A method's error reaches callers over the wire as happner's error
// object {"name", "message", …fields}: the name and fields come from an
// [*Error] in the error's chain, or from an error type that implements
// [ErrorNamer] and [ErrorFielder]; anything else is named "Error". Go
// callers receive an [*Error] whose Error() is the message alone and whose
// Name and Fields hold the rest.
//
// In a cluster (package cluster) a component uses components of other
// members through its [Dependencies]: each a [Dependency] with a version
// range and the methods used, declared in [ComponentConfig].Dependencies,
// a config file's components.<name>.dependencies, or the module's
// [ModuleSchema].Dependencies (package.json's happner.dependencies); every
// form is read by [ParseDependencies] and means the same. The range
// decides whether the local component or another member's runs a call and
// which events the component receives.
//
// Requests travel as happn publications on
// /_exchange/requests/<domain>/<component>/<method> and replies on the
// caller's callbackAddress; events on /_events/<domain>/<component>/<key>;
// component data lives under /_data/<component>/; the mesh description is
// kept at /mesh/schema/description and /mesh/schema/config.
//
// A mesh creates the node's metrics registry (package metrics) unless
// Config.Happn turns metrics off: each exposed method's call counter and
// duration histogram are bound when its component joins, and its happn
// server serves them at /metrics. GET /ready answers 503 until every
// component has started.
package happner
