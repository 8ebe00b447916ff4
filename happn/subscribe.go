package happn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// refGenerator makes subscription references: a random prefix per server
// and a counter, like happn's hyperid ("8pSgUD4aQZWH1SdoR9abew-0").
type refGenerator struct {
	prefix string
	n      atomic.Uint64
}

func newRefGenerator() *refGenerator {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return &refGenerator{prefix: base64.RawURLEncoding.EncodeToString(b[:]) + "-"}
}

func (g *refGenerator) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1)-1, 10)
}

func parseAction(a string) eventAction {
	switch a {
	case "SET":
		return actionSet
	case "REMOVE":
		return actionRemove
	}
	return actionAll
}

func (s *Server) on(ctx context.Context, sess *Session, req *request, opts *requestOptions) error {
	if err := needPath(req); err != nil {
		return err
	}
	// the subscription outlives the request: its strings must not share
	// the request frame's memory
	channel := strings.Clone(req.path)
	action, key, ok := pathmatch.SplitChannel(channel)
	if !ok {
		return plainError("Bad path, a subscription path must start with /ALL@, /SET@ or /REMOVE@: %s", req.path)
	}
	changes := s.secChanges.Load()
	as, nested, under, err := s.authorizeItems(ctx, sess, key, "on", opts)
	if err != nil {
		return err
	}
	sub := &subscription{
		ref:      s.refs.next(),
		session:  sess,
		action:   parseAction(action),
		channel:  channel,
		path:     key,
		authPath: key,
		nested:   nested,
		as:       as,
		merge:    opts.Merge,
		meta:     opts.Meta,
		options:  req.Options,
	}
	sub.replicates = s.replicates(sess, key)
	sub.perItem.Store(under)
	if h := s.subscribeHook; h != nil && !sess.isPeer() {
		match, refuse := h(sess.id, req.path, key)
		if refuse {
			data := append([]byte(`{"id":`), appendString(nil, sub.ref)...)
			sess.send(okFrame(sess, req, append(data, '}'), nil, false))
			return nil
		}
		sub.path = match
		key = match
	}
	if strings.HasSuffix(key, "/**") || key == "**" {
		sub.depth = opts.Depth
		if sub.depth <= 0 {
			sub.depth = pathmatch.DefaultDepth
		}
	}
	if sess.closed.Load() {
		return nil
	}
	s.subs.add(sub)
	if s.secChanges.Load() != changes {
		// a security change (secure servers only count them) checked the
		// session's subscriptions between this one's authorisation and its
		// addition: check it now
		if sec := sess.securitySession(); sec == nil || s.subscriptionRevoked(ctx, sec, sub) {
			s.subs.remove(sess, func(x *subscription) bool { return x == sub })
			return errs.AccessDenied("unauthorized")
		}
	}
	if !opts.InitialCallback && !opts.InitialEmit {
		data := append([]byte(`{"id":`), appendString(nil, sub.ref)...)
		sess.send(okFrame(sess, req, append(data, '}'), nil, false))
		return nil
	}
	recs, err := s.initialValues(ctx, key, sub.depth)
	if err != nil {
		s.subs.remove(sess, func(x *subscription) bool { return x == sub })
		return SystemError(err, "SubscriptionService")
	}
	if nested || under {
		recs = s.permittedRecords(ctx, as, recs)
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"data":[`...)
	meta := make([]byte, 0, 96)
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		meta = append(meta[:0], '{')
		meta = appendItemMeta(meta, r)
		meta = append(meta, '}')
		b = appendMergedItem(b, r.Data, meta)
	}
	b = append(b, `],"_meta":{"referenceId":`...)
	b = appendString(b, sub.ref)
	b = append(b, ',')
	b = appendResponseMeta(b, sess, req, "ok", false)
	b = append(b, '}')
	sess.send(appendProtocol(b, sess))
	return nil
}

// initialValues reads what a new subscription's initialCallback or
// initialEmit returns: the records under its path, oldest change first,
// no deeper than its depth for a trailing "/**".
func (s *Server) initialValues(ctx context.Context, key string, depth int) ([]*store.Record, error) {
	pattern := key
	if key == "*" || key == "**" {
		pattern = "*"
	}
	q := &query.Query{Sort: []query.SortKey{{Field: "modified"}, {Field: "path"}}}
	recs, err := s.store.Find(ctx, pattern, q)
	if err != nil || depth <= 0 || !strings.HasSuffix(key, "**") {
		return recs, err
	}
	base := len(key) - 2
	kept := recs[:0]
	for _, r := range recs {
		if len(r.Path) >= base && strings.Count(r.Path[base:], "/")+1 <= depth {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

func (s *Server) off(sess *Session, req *request, opts *requestOptions) error {
	if len(req.Path) == 0 || req.Path[0] != '"' {
		return badPathType(req)
	}
	var ref string
	if len(opts.ReferenceID) > 0 && opts.ReferenceID[0] == '"' {
		_ = json.Unmarshal(opts.ReferenceID, &ref)
	}
	var removed []*subscription
	if req.path == "*" {
		removed = s.subs.remove(sess, func(x *subscription) bool { return ref == "" || x.ref == ref })
	} else {
		removed = s.subs.remove(sess, func(x *subscription) bool {
			return x.channel == req.path && (ref == "" || x.ref == ref)
		})
	}
	b := make([]byte, 0, 128+len(removed)*256)
	b = append(b, `{"id":`...)
	if ref == "" {
		b = append(b, "false"...)
	} else {
		b = appendString(b, ref)
	}
	b = append(b, `,"removed":[`...)
	for i, x := range removed {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRemovedRecord(b, sess, x)
	}
	b = append(b, "]}"...)
	sess.send(okFrame(sess, req, b, nil, false))
	return nil
}

// appendRemovedRecord renders a removed subscription as happn's off reply
// lists it (clients ignore it; kept for fidelity).
func appendRemovedRecord(b []byte, sess *Session, x *subscription) []byte {
	b = append(b, `{"subscriberKey":`...)
	b = appendString(b, sess.id)
	b = append(b, `,"data":{"options":`...)
	if len(x.options) > 0 {
		b = append(b, x.options...)
	} else {
		b = append(b, "{}"...)
	}
	b = append(b, `,"session":{"id":`...)
	b = appendString(b, sess.id)
	b = append(b, `,"protocol":`...)
	b = appendString(b, sess.Protocol())
	sess.mu.Lock()
	info := sess.info
	sess.mu.Unlock()
	b = append(b, `,"info":`...)
	if len(info) > 0 {
		b = append(b, info...)
	} else {
		b = append(b, "{}"...)
	}
	b = append(b, `},"ref":`...)
	b = appendString(b, x.ref)
	b = append(b, `,"action":`...)
	b = appendString(b, x.action.String())
	b = append(b, `,"searchPath":`...)
	b = appendString(b, x.path)
	b = append(b, `,"path":`...)
	b = appendString(b, x.path)
	return append(b, "}}"...)
}
