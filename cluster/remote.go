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
	"github.com/happner-go/happner/internal/jsonscan"
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
	// deliver hands the call its reply; it is called once, by whoever
	// took the call out of the pending table.
	deliver func(callReply)
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
		pc.deliver(callReply{err: mk(pc)})
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

// encode writes the request as encoding/json would, without reflection
// for the envelope: arguments that arrived as JSON are copied as they are.
func (q *exchangeRequest) encode() ([]byte, error) {
	b := make([]byte, 0, 160)
	b = append(b, `{"callbackAddress":`...)
	b = jsonscan.AppendString(b, q.CallbackAddress)
	b = append(b, `,"args":`...)
	if q.Args == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range q.Args {
			if i > 0 {
				b = append(b, ',')
			}
			raw, ok := a.(json.RawMessage)
			if !ok || !json.Valid(raw) {
				var err error
				if raw, err = json.Marshal(a); err != nil {
					return nil, err
				}
			}
			b = append(b, raw...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"origin":{"id":`...)
	b = jsonscan.AppendString(b, q.Origin.ID)
	if q.Origin.Username != "" {
		b = append(b, `,"username":`...)
		b = jsonscan.AppendString(b, q.Origin.Username)
	}
	b = append(b, `},"version":`...)
	b = jsonscan.AppendString(b, q.Version)
	return append(b, '}'), nil
}

// fail ends the call awaiting a reply at addr with err.
func (r *remote) fail(addr string, err error) {
	r.mu.Lock()
	pc := r.pending[addr]
	delete(r.pending, addr)
	r.mu.Unlock()
	if pc != nil {
		pc.deliver(callReply{err: err})
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
		pc.deliver(callReply{data: ev.Data})
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
	pc.deliver(callReply{data: append(json.RawMessage(nil), pub.Data...)})
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
	// batch, for an async call started on a client connection's reader,
	// lets the request wait for the end of the reader's batch, so that the
	// calls of a batch go to a peer in one write (see happn.Batch).
	batch happn.Batch
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

// call sends the request to the chosen member and waits for the reply
// (callAsync, waited for).
func (r *remote) call(ctx context.Context, c remoteCall) ([]any, error) {
	type result struct {
		res []any
		err error
	}
	ch := make(chan result, 1)
	r.callAsync(ctx, c, func(res []any, err error) { ch <- result{res, err} })
	out := <-ch
	return out.res, out.err
}

// callAsync sends the request and returns without waiting: done gets the
// results once the reply arrives, the call fails, the response timeout
// passes or ctx ends (on whichever goroutine that happens). The outcome is
// recorded in the metrics.
func (r *remote) callAsync(ctx context.Context, c remoteCall, done func([]any, error)) {
	began := time.Now()
	c.batch = happn.BatchFromContext(ctx)
	var timer *time.Timer
	var unwatch func() bool
	finish := func(rep callReply) {
		// armed before the request was sent, so before any reply
		timer.Stop()
		unwatch()
		var res []any
		err := rep.err
		if err == nil {
			res, err = decodeReply(rep.data)
		}
		r.record(c, began, err)
		done(res, err)
	}
	err := r.send(ctx, c, finish, func(addr, rng string) {
		end := func(err error) {
			if pc := r.take(addr); pc != nil {
				pc.deliver(callReply{err: err})
			}
		}
		timer = time.AfterFunc(r.m.cfg.Cluster.ResponseTimeout, func() { end(errTimeout(c, rng)) })
		// a caller that gives up (the mesh stopping) ends the call
		unwatch = context.AfterFunc(ctx, func() {
			end(fmt.Errorf("cluster: awaiting response on %s.%s: %w", c.component, c.method, ctx.Err()))
		})
	})
	if err != nil {
		if timer != nil { // armed, then the request could not be sent
			timer.Stop()
			unwatch()
		}
		r.record(c, time.Time{}, err)
		done(nil, err)
	}
}

// errTimeout is the error of a call whose reply did not come in time.
func errTimeout(c remoteCall, rng string) error {
	return happner.NewError("Error", fmt.Sprintf("Timeout awaiting response on %s.%s version: %s", c.component, c.method, rng))
}

// record counts a remote call's outcome in the metrics; a zero began
// means the call was never sent.
func (r *remote) record(c remoteCall, began time.Time, err error) {
	stats := r.m.met.RemoteCall(c.component, c.method)
	if stats == nil {
		return
	}
	var took time.Duration
	if !began.IsZero() {
		took = time.Since(began)
	}
	stats.Done(took, remoteStatus(err))
}

// take removes the call awaiting a reply at addr from the pending table
// and returns it (nil when it is gone: answered, failed or timed out).
func (r *remote) take(addr string) *pendingCall {
	r.mu.Lock()
	pc := r.pending[addr]
	delete(r.pending, addr)
	r.mu.Unlock()
	return pc
}

// send chooses the member, registers the call with deliver and sends the
// request without waiting. arm runs once the call's address is known,
// before the call is registered and its request sent. An error means
// the call was not sent and deliver will not be called.
func (r *remote) send(ctx context.Context, c remoteCall, deliver func(callReply), arm func(addr, rng string)) error {
	rng := displayRange(c.rng)
	im, ok := r.impl.next(c.component, rng, c.method)
	if !ok {
		return errNotImplemented(c.component, rng, c.method)
	}
	if err := r.subscribeReplies(ctx, im.client); err != nil {
		return fmt.Errorf("cluster: subscribing to replies from %s: %w", im.peer, err)
	}
	addr := r.prefix + c.component + "/" + c.method + "/" + r.sid + "/" + strconv.FormatUint(r.seq.Add(1), 10)
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
	raw, err := req.encode()
	if err != nil {
		return fmt.Errorf("cluster: encoding request to %s.%s: %w", c.component, c.method, err)
	}
	// armed before it is registered, so that whoever takes the call out
	// of the pending table finds its timer set (a context that ends in
	// between finds nothing to end: the call then ends at the response
	// timeout)
	arm(addr, rng)
	r.mu.Lock()
	r.pending[addr] = &pendingCall{peer: im.peer, component: c.component, method: c.method, rng: rng, deliver: deliver}
	r.mu.Unlock()
	opts := []client.Option{client.NoStore(), client.NoDataResponse(), client.With("noCluster", true)}
	if c.onBehalfOf != "" {
		opts = append(opts, client.With("onBehalfOf", c.onBehalfOf))
	}
	if c.batch.Valid() {
		opts = append(opts, client.WriteLater(c.batch.Defer))
	}
	// The request's acknowledgement is not waited for on its own: a refusal
	// (the peer denies the caller, say) fails the call when it arrives,
	// and otherwise the reply is the only thing the caller waits for.
	path := "/_exchange/requests/" + r.m.cfg.Domain + "/" + c.component + "/" + c.method
	err = im.client.SetAsync(path, json.RawMessage(raw), func(err error) {
		if err != nil {
			r.fail(addr, requestError(err))
		}
	}, opts...)
	if err != nil {
		if r.take(addr) == nil {
			return nil // a reply or a failure got there first and was delivered
		}
		return requestError(err)
	}
	return nil
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
	// one pass, no reflection: this runs for every remote call
	var rep struct {
		Status string
		Args   []json.RawMessage
	}
	err := jsonscan.EachMember(data, func(k, v []byte) error {
		switch {
		case jsonscan.KeyIs(k, "status"):
			s, ok := jsonscan.Unquote(v)
			if !ok && string(v) != "null" {
				return errors.New("status is not a string")
			}
			rep.Status = s
		case jsonscan.KeyIs(k, "args"):
			rep.Args = rep.Args[:0]
			if string(v) == "null" {
				return nil
			}
			return jsonscan.EachElement(v, func(a []byte) error {
				rep.Args = append(rep.Args, a)
				return nil
			})
		}
		return nil
	})
	if err != nil {
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
