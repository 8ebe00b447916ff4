package happn

import "encoding/json"

// SubscribeHook lets the layer above happn (the mesh) adjust a
// subscription before it is registered. It receives the subscribing
// session's id and the channel as the client sent it ("/SET@/a/*") and
// returns the path that publications are matched against (the part after
// '@' unless changed). With refuse set, nothing is subscribed and the client
// still gets a success reply, which is how happner hides other sessions'
// exchange responses. Publications always carry the channel exactly as the
// client sent it. The hook is not asked for the sessions of other cluster
// members (their login info names a cluster): a member subscribes to the
// replies of its own calls under its own member id.
type SubscribeHook func(sessionID, channel, path string) (match string, refuse bool)

// SetSubscribeHook installs h; call it before Start.
func (s *Server) SetSubscribeHook(h SubscribeHook) { s.subscribeHook = h }

// DeliveryFilter decides whether a publication reaches a subscription
// whose on request carried options.meta (subMeta); it is only asked when
// both the publication and the subscription have meta. happner-cluster
// uses it to deliver component events only to subscribers whose
// meta.componentVersion range the event's componentVersion satisfies.
type DeliveryFilter func(pub *Publication, subMeta json.RawMessage) bool

// SetDeliveryFilter installs f; call it before Start.
func (s *Server) SetDeliveryFilter(f DeliveryFilter) { s.deliveryFilter = f }
