package happn

import (
	"context"
	"encoding/json"

	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store"
	"strconv"
	"sync"
	"time"
)

// publication is one change (set or remove) being delivered to the
// sessions subscribed to its path.
type publication struct {
	id          string          // "<publisher session id>-<eventId>", made when first needed
	eventID     json.RawMessage // the publisher's eventId, for id
	seq         uint64          // the id's number of an internal publication
	publisher   *Session
	op          eventAction
	path        string
	data        json.RawMessage // what ordinary subscribers receive
	rawData     json.RawMessage // what merge subscribers receive
	created     int64
	modified    int64
	consistency int
	meta        json.RawMessage // options.meta of the publisher
	targets     []string        // options.targetClients
	noCluster   bool
	as          *security.Session // the identity the write acted as (onBehalfOf)
	origin      *Origin           // an explicit eventOrigin (Server.Publish)
	publisherID string            // an explicit publisher session id (Server.Publish)
	inline      bool              // write to idle connections on this goroutine
	readerIdle  bool              // made on its client's reader, which has nothing else to read
	batch       Batch             // the batch of its client's reader, when made on it
}

// publicationID returns the publication's id, making it on first use (a
// publication that reaches nobody never needs it).
func (p *publication) publicationID() string {
	if p.id == "" {
		p.id = string(p.appendID(make([]byte, 0, 64)))
	}
	return p.id
}

// appendID appends the publication's id: the publisher's session id, '-',
// and its eventId (or the server's sequence number for internal ones).
func (p *publication) appendID(b []byte) []byte {
	if p.id != "" {
		return append(b, p.id...)
	}
	b = append(b, p.publisherSessionID()...)
	b = append(b, '-')
	if p.eventID != nil {
		return append(b, p.eventID...)
	}
	return strconv.AppendUint(b, p.seq, 10)
}

// plainID reports whether the id needs no JSON escaping (the usual uuid
// and number).
func (p *publication) plainID() bool {
	return p.id == "" && (p.eventID == nil || p.eventID[0] != '"') && plainJSONString(p.publisherSessionID())
}

// plainJSONString reports whether s can be written between quotes as is.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// publisherSessionID is the session id a publication reports.
func (p *publication) publisherSessionID() string {
	if p.publisherID != "" {
		return p.publisherID
	}
	return p.publisher.id
}

// eventOrigin is the publication's _meta.eventOrigin, nil when none.
func (p *publication) eventOrigin() *Origin {
	if p.origin != nil {
		return p.origin
	}
	u := p.publisher.sessionUser()
	if u == nil {
		return nil
	}
	name := u.Username
	if p.as != nil {
		name = p.as.Username
	}
	return &Origin{Username: name, ID: p.publisher.id}
}

// publishResult counts a publication's deliveries.
type publishResult struct {
	successful, failed, skipped, queued int
	recipients                          map[*Session]int
}

func (r publishResult) appendJSON(b []byte, acknowledged int, withAck bool) []byte {
	b = append(b, `{"successful":`...)
	b = strconv.AppendInt(b, int64(r.successful), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(r.failed), 10)
	b = append(b, `,"skipped":`...)
	b = strconv.AppendInt(b, int64(r.skipped), 10)
	if withAck {
		b = append(b, `,"acknowledged":`...)
		b = strconv.AppendInt(b, int64(acknowledged), 10)
	}
	b = append(b, `,"queued":`...)
	b = strconv.AppendInt(b, int64(r.queued), 10)
	return append(b, '}')
}

// reservedMeta are _meta keys that a publisher's options.meta may not set.
var reservedMeta = map[string]bool{
	"created": true, "modified": true, "path": true, "action": true, "type": true,
	"published": true, "status": true, "eventId": true, "sessionId": true,
	"consistency": true, "publicationId": true, "channel": true, "depth": true, "eventOrigin": true,
}

// writeAndPublish publishes p (unless the options say not to) and sends the
// reply built by reply, in the order the consistency level asks for:
// TRANSACTIONAL publishes first and replies with published:true; DEFERRED
// and ACKNOWLEDGED reply first, then publish, then send publication-ack.
func (s *Server) writeAndPublish(sess *Session, req *request, opts *requestOptions, p *publication, r *writeReply) {
	reply := func(published bool, results []byte) []byte { return r.frame(sess, req, published, results) }
	consistency := opts.Consistency
	if consistency == 0 {
		consistency = consistencyTransactional
	}
	p.publisher = sess
	p.consistency = consistency
	p.meta = opts.Meta
	p.targets = opts.TargetClients
	p.noCluster = opts.NoCluster
	p.eventID = req.EventID
	if opts.NoPublish || opts.UpsertType == 3 {
		sess.send(reply(false, nil))
		return
	}
	if consistency == consistencyTransactional {
		res := s.publish(p)
		var results []byte
		if opts.PublishResults {
			results = append([]byte(`,"publishResults":`), res.appendJSON(nil, 0, false)...)
		}
		sess.send(reply(true, results))
		return
	}
	sess.send(reply(false, nil))
	res := s.publish(p)
	if consistency == consistencyAcknowledged && res.queued > 0 {
		s.acks.wait(p, req.EventID, res)
		return
	}
	sess.send(publicationAck(sess, p.publicationID(), req.EventID, res, 0, consistency == consistencyAcknowledged, ""))
}

// writeReply is the reply to a write (set, increment, remove), built once
// the write is published or not.
type writeReply struct {
	kind     replyKind
	data     []byte        // the reply's data
	rec      *store.Record // the stored item (replyItem)
	itemMeta []byte        // members added to the reply's _meta (replyData)
}

// replyKind is the form of a write's reply.
type replyKind uint8

const (
	replyItem   replyKind = iota // {data: item, _meta: {item meta, …}}
	replyNoData                  // {_meta: {path, eventId, …}} (noDataResponse)
	replyData                    // {data, _meta: {itemMeta, …}}
)

// frame builds the reply frame; results are publishResults members.
func (r *writeReply) frame(sess *Session, req *request, published bool, results []byte) []byte {
	switch r.kind {
	case replyNoData:
		b := make([]byte, 0, 128+len(req.path)+len(results))
		b = append(b, `{"_meta":{"path":`...)
		b = appendString(b, req.path)
		if len(req.EventID) > 0 {
			b = append(b, `,"eventId":`...)
			b = append(b, req.EventID...)
		}
		b = append(b, `,"type":"response","status":"ok","published":`...)
		b = strconv.AppendBool(b, published)
		b = append(b, results...)
		return append(b, "}}"...)
	case replyData:
		meta := r.itemMeta
		if len(results) > 0 {
			meta = append(meta, results...)
		}
		return okFrame(sess, req, r.data, trimComma(meta), published)
	}
	return itemFrame(sess, req, r.data, r.rec, results, published)
}

// publicationAck builds the message that reports a DEFERRED or
// ACKNOWLEDGED publication's results to its publisher.
func publicationAck(sess *Session, id string, eventID json.RawMessage, res publishResult, acked int, withAck bool, errMsg string) []byte {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"action":"publication-ack","result":`...)
	b = res.appendJSON(b, acked, withAck)
	if errMsg == "" {
		b = append(b, `,"status":"ok"`...)
	} else {
		b = append(b, `,"status":"error","error":`...)
		b = appendString(b, errMsg)
	}
	b = append(b, `,"_meta":{"type":"ack","eventId":`...)
	b = appendRaw(b, eventID)
	b = append(b, '}')
	return appendProtocol(b, sess)
}

// recipientKey identifies one message of a publication: one per session
// and channel.
type recipientKey struct {
	sess    *Session
	channel string
}

// cachedFrame is a publication frame built for one channel variant; all
// recipients of that variant share the same bytes.
type cachedFrame struct {
	channel string
	depth   int
	merge   bool
	proto   string
	frame   []byte
}

var matchPool = sync.Pool{New: func() any { s := make([]*subscription, 0, 16); return &s }}

// publish delivers p to every matching subscription and returns counts.
func (s *Server) publish(p *publication) publishResult {
	listp := matchPool.Get().(*[]*subscription)
	list := s.subs.match((*listp)[:0], p.op, p.path)
	var res publishResult
	if len(list) == 0 {
		*listp = list
		matchPool.Put(listp)
		s.published(0, 0)
		return res
	}
	toPeers := 0 // frames to cluster members' sessions: replicated out
	var (
		common, commonMerge []byte
		frames              []cachedFrame
		seen                map[recipientKey]struct{}
		view                *Publication
	)
	if len(list) > 1 && s.subs.dupChannels.Load() > 0 {
		seen = make(map[recipientKey]struct{}, len(list))
	}
	for _, sub := range list {
		if sub.deliver != nil {
			// an in-process subscriber: a Go call, no frame, not deduplicated
			if sub.noPeers && p.publisher.isPeer() || len(p.targets) > 0 {
				continue
			}
			if view == nil {
				view = publicationView(s.views.Get().(*Publication), p)
			}
			view.handled = false
			sub.deliver(view)
			if !view.handled && p.publisher != s.internal && p.publisherID == "" && !p.publisher.local {
				p.publisher.handedOff = true
			}
			res.successful++
			continue
		}
		if len(p.targets) > 0 && !contains(p.targets, sub.session.id) {
			continue
		}
		if seen != nil {
			if _, dup := seen[recipientKey{sub.session, sub.channel}]; dup {
				continue
			}
		}
		if (sub.nested || sub.perItem.Load()) && !s.permitted(context.Background(), sub.as, p.path, "on") {
			continue
		}
		if f := s.deliveryFilter; f != nil && len(p.meta) > 0 && len(sub.meta) > 0 {
			if view == nil {
				view = publicationView(s.views.Get().(*Publication), p)
			}
			if !f(view, sub.meta) {
				continue
			}
		}
		// a session gets one frame per channel, when any of its
		// subscriptions to the channel accepts the publication (the
		// client hands it to every listener of the channel)
		if seen != nil {
			seen[recipientKey{sub.session, sub.channel}] = struct{}{}
		}
		if p.noCluster && sub.session.isPeer() {
			res.skipped++
			continue
		}
		proto := sub.session.Protocol()
		var frame []byte
		for i := range frames {
			f := &frames[i]
			if f.channel == sub.channel && f.depth == sub.depth && f.merge == sub.merge && f.proto == proto {
				frame = f.frame
				break
			}
		}
		if frame == nil {
			// the first frame of a kind is built in one buffer; the
			// others copy its common prefix
			prefix, data := &common, p.data
			if sub.merge {
				prefix, data = &commonMerge, p.rawData
			}
			if *prefix == nil {
				frame = make([]byte, 0, len(data)+len(p.path)*2+len(sub.channel)+320)
				frame = s.appendPublicationPrefix(frame, p, data)
				*prefix = frame[:len(frame):len(frame)]
			} else {
				frame = make([]byte, 0, len(*prefix)+len(sub.channel)+48)
				frame = append(frame, *prefix...)
			}
			frame = append(frame, `,"channel":`...)
			frame = appendString(frame, sub.channel)
			if sub.depth > 0 {
				frame = append(frame, `,"depth":`...)
				frame = strconv.AppendInt(frame, int64(sub.depth), 10)
			}
			frame = append(frame, `},"protocol":`...)
			frame = appendString(frame, proto)
			frame = append(frame, '}')
			frames = append(frames, cachedFrame{sub.channel, sub.depth, sub.merge, proto, frame})
		}
		if p.inline {
			sub.session.sendNow(frame)
		} else {
			sub.session.send(frame)
		}
		res.successful++
		res.queued++
		if sub.replicates {
			toPeers++
		}
		if p.consistency == consistencyAcknowledged {
			if res.recipients == nil {
				res.recipients = make(map[*Session]int)
			}
			res.recipients[sub.session]++
		}
	}
	clear(list)
	*listp = list[:0]
	matchPool.Put(listp)
	if view != nil {
		*view = Publication{}
		s.views.Put(view)
	}
	s.published(res.successful, toPeers)
	return res
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// appendPublicationPrefix renders a publication up to (not including) the
// subscriber-specific channel: {"data":…,"_meta":{"action":…,…
func (s *Server) appendPublicationPrefix(b []byte, p *publication, data json.RawMessage) []byte {
	b = append(b, `{"data":`...)
	b = appendRaw(b, data)
	b = append(b, `,"_meta":{"action":`...)
	b = append(b, `"/`...)
	b = append(b, p.op.String()...)
	b = append(b, '@')
	b = appendEscaped(b, p.path)
	b = append(b, '"')
	b = append(b, `,"type":"data","sessionId":`...)
	b = appendString(b, p.publisherSessionID())
	b = append(b, `,"consistency":`...)
	b = strconv.AppendInt(b, int64(p.consistency), 10)
	b = append(b, `,"publicationId":`...)
	if p.plainID() {
		b = append(b, '"')
		b = p.appendID(b)
		b = append(b, '"')
	} else {
		b = appendString(b, p.publicationID())
	}
	b = append(b, `,"path":`...)
	b = appendString(b, p.path)
	if p.created != 0 || p.modified != 0 {
		b = append(b, `,"created":`...)
		b = strconv.AppendInt(b, p.created, 10)
		b = append(b, `,"modified":`...)
		b = strconv.AppendInt(b, p.modified, 10)
	}
	if len(p.meta) > 0 && p.meta[0] == '{' {
		var custom map[string]json.RawMessage
		if json.Unmarshal(p.meta, &custom) == nil {
			for k, v := range custom {
				if reservedMeta[k] {
					continue
				}
				b = append(b, ',')
				b = appendString(b, k)
				b = append(b, ':')
				b = append(b, v...)
			}
		}
	}
	if o := p.eventOrigin(); o != nil {
		b = append(b, `,"eventOrigin":{"username":`...)
		b = appendString(b, o.Username)
		b = append(b, `,"id":`...)
		b = appendString(b, o.ID)
		b = append(b, '}')
	}
	return b
}

// ackTracker waits for the acks of ACKNOWLEDGED publications.
type ackTracker struct {
	s       *Server
	mu      sync.Mutex
	pending map[string]*pendingAck
}

type pendingAck struct {
	publisher *Session
	id        string
	eventID   json.RawMessage
	res       publishResult
	waiting   map[*Session]int
	acked     int
	timer     *time.Timer
}

func newAckTracker(s *Server) *ackTracker {
	return &ackTracker{s: s, pending: make(map[string]*pendingAck)}
}

func (t *ackTracker) wait(p *publication, eventID json.RawMessage, res publishResult) {
	pa := &pendingAck{publisher: p.publisher, id: p.publicationID(), eventID: eventID, res: res, waiting: res.recipients}
	t.mu.Lock()
	t.pending[pa.id] = pa
	t.mu.Unlock()
	pa.timer = time.AfterFunc(t.s.cfg.AcknowledgeTimeout, func() { t.finish(pa, "unacknowledged publication") })
}

// ack counts one ack from sess for the publication id; it reports false
// when no such publication is waiting for sess.
func (t *ackTracker) ack(sess *Session, id string) bool {
	t.mu.Lock()
	pa := t.pending[id]
	if pa == nil || pa.waiting[sess] == 0 {
		t.mu.Unlock()
		return false
	}
	pa.waiting[sess]--
	pa.acked++
	done := pa.acked >= pa.res.queued
	t.mu.Unlock()
	if done {
		t.finish(pa, "")
	}
	return true
}

func (t *ackTracker) finish(pa *pendingAck, errMsg string) {
	t.mu.Lock()
	if t.pending[pa.id] != pa {
		t.mu.Unlock()
		return
	}
	delete(t.pending, pa.id)
	acked := pa.acked
	t.mu.Unlock()
	pa.timer.Stop()
	pa.publisher.send(publicationAck(pa.publisher, pa.id, pa.eventID, pa.res, acked, true, errMsg))
}

// forget drops the waits of a closed publisher.
func (t *ackTracker) forget(sess *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, pa := range t.pending {
		if pa.publisher == sess {
			pa.timer.Stop()
			delete(t.pending, id)
		}
	}
}

func (t *ackTracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, pa := range t.pending {
		pa.timer.Stop()
		delete(t.pending, id)
	}
}

func (s *Server) ack(sess *Session, req *request) error {
	var id string
	if err := json.Unmarshal(req.Data, &id); err != nil {
		return plainError("ack data must be a publication id string")
	}
	s.acks.ack(sess, id)
	sess.send(okFrame(sess, req, nil, nil, false))
	return nil
}
