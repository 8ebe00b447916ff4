package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// remote calls components on other members: requests go out on the chosen
// peer's connection, and the peer publishes each reply on that same
// connection, to which this member is subscribed (see subscribeReplies). A
// request that names a callbackPeer (happner-cluster's clients do) is
// answered through that member's connection instead, and reaches this
// member's in-process subscriber (onReply).
type remote struct {
	m      *Member
	impl   *implementors
	sid    string // this member's id in callback addresses
	prefix string // /_exchange/responses/<domain>/
	seq    atomic.Uint64

	mu      sync.Mutex
	pending map[string]*pendingCall // by callback address

	// replySubs are the peer connections subscribed to this member's
	// replies (see subscribeReplies).
	replyMu   sync.Mutex
	replySubs map[*client.Client]*replySub
}

// replySub is the subscription of one peer connection to this member's
// replies, made once, on the first call to that peer.
type replySub struct {
	once sync.Once
	err  error
}

// pendingCall is a request awaiting its reply.
type pendingCall struct {
	peer      string
	component string
	method    string
	rng       string
	reply     chan callReply
}

type callReply struct {
	data json.RawMessage
	err  error
}

func newRemote(m *Member) *remote {
	return &remote{
		m: m, impl: newImplementors(m),
		sid:       strings.ReplaceAll(uuid.NewString(), "-", ""),
		prefix:    "/_exchange/responses/" + m.cfg.Domain + "/",
		pending:   map[string]*pendingCall{},
		replySubs: map[*client.Client]*replySub{},
	}
}

// start subscribes to the replies and follows the peers; the returned
// function undoes it.
func (r *remote) start() func() {
	// /_exchange/responses/<domain>/<component>/<method>/<sid>/<seq>
	cancelSub := r.m.srv.Subscribe(r.prefix+"*/*/"+r.sid+"/*", happn.SubscribeOptions{Action: "SET"}, r.onReply)
	cancelPeers := r.m.OnPeer(r.onPeer)
	for _, p := range r.m.Peers() {
		r.impl.peerAdded(p)
	}
	return func() {
		cancelPeers()
		cancelSub()
		r.impl.stop()
		r.failAll(func(*pendingCall) bool { return true }, func(pc *pendingCall) error {
			return happner.NewError("Error", fmt.Sprintf("Member stopped while awaiting response on %s.%s version: %s", pc.component, pc.method, pc.rng))
		})
	}
}

// onPeer follows peers arriving and leaving; calls in flight to a peer
// that left fail at once.
func (r *remote) onPeer(ev PeerEvent) {
	switch ev.Type {
	case PeerAdded:
		r.impl.peerAdded(ev.Peer)
	case PeerRemoved:
		r.impl.peerRemoved(ev.Peer)
		r.replyMu.Lock()
		delete(r.replySubs, ev.Peer.Client)
		r.replyMu.Unlock()
		name := ev.Peer.Name
		r.failAll(func(pc *pendingCall) bool { return pc.peer == name }, func(pc *pendingCall) error {
			return errPeerDeparted(name, pc.component, pc.method, pc.rng)
		})
	}
}

// errPeerDeparted is the error of a call in flight to a member whose
// connection dropped (beyond happner-cluster, which waits for the timeout).
func errPeerDeparted(peer, component, method, rng string) *happner.Error {
	return happner.NewError("Error", fmt.Sprintf("Member %s left the cluster while awaiting response on %s.%s version: %s", peer, component, method, rng))
}

func (r *remote) failAll(match func(*pendingCall) bool, mk func(*pendingCall) error) {
	r.mu.Lock()
	var failed []*pendingCall
	for addr, pc := range r.pending {
		if match(pc) {
			delete(r.pending, addr)
			failed = append(failed, pc)
		}
	}
	r.mu.Unlock()
	for _, pc := range failed {
		pc.reply <- callReply{err: mk(pc)}
	}
}

// exchangeRequest is the message of a call to another member.
type exchangeRequest struct {
	CallbackAddress string        `json:"callbackAddress"`
	Args            []any         `json:"args"`
	Origin          requestOrigin `json:"origin"`
	Version         string        `json:"version"`
}

type requestOrigin struct {
	ID       string `json:"id"`
	Username string `json:"username,omitempty"`
}

// fail ends the call awaiting a reply at addr with err.
func (r *remote) fail(addr string, err error) {
	r.mu.Lock()
	pc := r.pending[addr]
	delete(r.pending, addr)
	r.mu.Unlock()
	if pc != nil {
		pc.reply <- callReply{err: err}
	}
}

// subscribeReplies subscribes cl, this member's connection to a peer, to
// the replies of this member's calls on that peer, once: the peer then
// publishes each reply on the connection its request came on, in the same
// write as the request's acknowledgement, and the reply is handed to its
// call on the connection's reader. The client keeps the subscription
// across reconnections.
func (r *remote) subscribeReplies(ctx context.Context, cl *client.Client) error {
	r.replyMu.Lock()
	s := r.replySubs[cl]
	if s == nil {
		s = &replySub{}
		r.replySubs[cl] = s
	}
	r.replyMu.Unlock()
	s.once.Do(func() {
		_, s.err = cl.On(ctx, r.prefix+"*/*/"+r.sid+"/*", client.OnOptions{EventType: "set", Direct: true}, r.onPeerReply)
	})
	if s.err != nil {
		r.replyMu.Lock()
		if r.replySubs[cl] == s {
			delete(r.replySubs, cl) // the next call tries again
		}
		r.replyMu.Unlock()
	}
	return s.err
}

// onPeerReply hands a reply that came on a peer connection to its call.
func (r *remote) onPeerReply(ev client.Event) {
	r.mu.Lock()
	pc := r.pending[ev.Meta.Path]
	delete(r.pending, ev.Meta.Path)
	r.mu.Unlock()
	if pc != nil {
		pc.reply <- callReply{data: ev.Data}
	}
}

// onReply hands a reply to its call.
func (r *remote) onReply(pub *happn.Publication) {
	r.mu.Lock()
	pc := r.pending[pub.Path]
	delete(r.pending, pub.Path)
	r.mu.Unlock()
	if pc == nil {
		return
	}
	pc.reply <- callReply{data: append(json.RawMessage(nil), pub.Data...)}
}

// remoteCall is one call to a component on another member.
type remoteCall struct {
	component, method string
	// rng is the version range the caller needs ("" any).
	rng  string
	args []any
	// origin is sent as the request's origin.
	origin *happner.Origin
	// onBehalfOf makes the peer authorise the request as this user.
	onBehalfOf string
}

// errNotImplemented is happner-cluster's error when no member implements
// the method.
func errNotImplemented(component, rng, method string) *happner.Error {
	return happner.NewError("Error", fmt.Sprintf("Not implemented %s:%s:%s", component, rng, method))
}

// displayRange is how a range appears in errors: "*" when none was given.
func displayRange(rng string) string {
	if rng == "" {
		return "*"
	}
	return rng
}

// call sends the request to the chosen member and waits for the reply,
// and records the call's outcome in the metrics.
func (r *remote) call(ctx context.Context, c remoteCall) ([]any, error) {
	stats := r.m.met.RemoteCall(c.component, c.method)
	if stats == nil {
		return r.send(ctx, c)
	}
	start := time.Now()
	res, err := r.send(ctx, c)
	stats.Done(time.Since(start), remoteStatus(err))
	return res, err
}

// send sends the request to the chosen member and waits for the reply.
func (r *remote) send(ctx context.Context, c remoteCall) ([]any, error) {
	rng := displayRange(c.rng)
	im, ok := r.impl.next(c.component, rng, c.method)
	if !ok {
		return nil, errNotImplemented(c.component, rng, c.method)
	}
	if err := r.subscribeReplies(ctx, im.client); err != nil {
		return nil, fmt.Errorf("cluster: subscribing to replies from %s: %w", im.peer, err)
	}
	addr := r.prefix + c.component + "/" + c.method + "/" + r.sid + "/" + strconv.FormatUint(r.seq.Add(1), 10)
	pc := &pendingCall{peer: im.peer, component: c.component, method: c.method, rng: rng, reply: make(chan callReply, 1)}
	r.mu.Lock()
	r.pending[addr] = pc
	r.mu.Unlock()
	forget := func() {
		r.mu.Lock()
		delete(r.pending, addr)
		r.mu.Unlock()
	}
	req := exchangeRequest{CallbackAddress: addr, Args: c.args, Origin: requestOrigin{ID: r.sid}, Version: rng}
	if req.Args == nil {
		req.Args = []any{}
	}
	if c.origin != nil {
		if c.origin.ID != "" {
			req.Origin.ID = c.origin.ID
		}
		req.Origin.Username = c.origin.Username
	}
	raw, err := json.Marshal(req)
	if err != nil {
		forget()
		return nil, fmt.Errorf("cluster: encoding request to %s.%s: %w", c.component, c.method, err)
	}
	opts := []client.Option{client.NoStore(), client.NoDataResponse(), client.With("noCluster", true)}
	if c.onBehalfOf != "" {
		opts = append(opts, client.With("onBehalfOf", c.onBehalfOf))
	}
	// The request's acknowledgement is not waited for on its own: a refusal
	// (the peer denies the caller, say) fails the call when it arrives,
	// and otherwise the reply is the only thing the caller waits for, so
	// that this goroutine wakes once per call.
	path := "/_exchange/requests/" + r.m.cfg.Domain + "/" + c.component + "/" + c.method
	err = im.client.SetAsync(path, json.RawMessage(raw), func(err error) {
		if err != nil {
			r.fail(addr, requestError(err))
		}
	}, opts...)
	if err != nil {
		forget()
		return nil, requestError(err)
	}
	timer := time.NewTimer(r.m.cfg.Cluster.ResponseTimeout)
	defer timer.Stop()
	select {
	case rep := <-pc.reply:
		if rep.err != nil {
			return nil, rep.err
		}
		return decodeReply(rep.data)
	case <-timer.C:
		forget()
		return nil, happner.NewError("Error", fmt.Sprintf("Timeout awaiting response on %s.%s version: %s", c.component, c.method, rng))
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("cluster: awaiting response on %s.%s: %w", c.component, c.method, ctx.Err())
	}
}

// requestError turns a failed request set into the error callers see:
// errors the peer sent (AccessDenied: unauthorized, …) keep their name
// and message.
func requestError(err error) error {
	var he *happner.Error
	if errors.As(err, &he) {
		return he
	}
	var se *client.ServerError
	if errors.As(err, &se) {
		e := happner.NewError(se.Name, se.Message)
		if se.Code != 0 {
			e.With("code", se.Code)
		}
		return e
	}
	return fmt.Errorf("cluster: sending request: %w", err)
}

// decodeReply reads a reply {status, args}: ok gives args[1:], anything
// else the error in args[0].
func decodeReply(data json.RawMessage) ([]any, error) {
	var rep struct {
		Status string            `json:"status"`
		Args   []json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, happner.NewError("Error", "invalid reply: "+err.Error())
	}
	if rep.Status != "ok" {
		e := &happner.Error{Name: "Error", Message: "remote call failed"}
		if len(rep.Args) > 0 {
			_ = json.Unmarshal(rep.Args[0], e)
		}
		return nil, e
	}
	out := make([]any, 0, len(rep.Args))
	for i, a := range rep.Args {
		if i == 0 {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// reply publishes a reply to a request made by another member through that
// member's connection (callbackPeer); with the peer gone the reply is
// dropped, as happner-cluster does, and the caller's own departure
// handling fails the call.
func (r *remote) reply(ctx context.Context, callbackPeer, address string, payload json.RawMessage) error {
	r.m.mu.Lock()
	var cl *client.Client
	if p := r.m.peers[callbackPeer]; p != nil {
		cl = p.client
	}
	r.m.mu.Unlock()
	if cl == nil {
		r.m.log.Warn("Failure on callback, missing peer: " + callbackPeer)
		return fmt.Errorf("cluster: failure on callback, missing peer: %s", callbackPeer)
	}
	// the reply is written at once, without waiting for the caller's
	// member to acknowledge it: the caller's own timeout and departure
	// handling cover a reply that never arrives
	if err := cl.PublishAsync(address, payload, func(err error) {
		if err != nil {
			r.m.log.Warn("cluster: reply refused", "peer", callbackPeer, "address", address, "err", err)
		}
	}); err != nil {
		return fmt.Errorf("cluster: publishing reply to %s: %w", callbackPeer, err)
	}
	return nil
}
