package happn

// SubscribeHook lets the layer above happn (the mesh) adjust a
// subscription before it is registered. It receives the subscribing
// session's id and the channel as the client sent it ("/SET@/a/*") and
// returns the path that publications are matched against (the part after
// '@' unless changed). With refuse set, nothing is subscribed and the client
// still gets a success reply, which is how happner hides other sessions'
// exchange responses. Publications always carry the channel exactly as the
// client sent it.
type SubscribeHook func(sessionID, channel, path string) (match string, refuse bool)

// SetSubscribeHook installs h; call it before Start.
func (s *Server) SetSubscribeHook(h SubscribeHook) { s.subscribeHook = h }
