package happn

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// appendItemMeta appends the members of a stored item's _meta.
func appendItemMeta(b []byte, rec *store.Record) []byte {
	b = append(b, `"path":`...)
	b = appendString(b, rec.Path)
	if rec.Created != 0 || rec.Modified != 0 {
		b = append(b, `,"created":`...)
		b = strconv.AppendInt(b, rec.Created, 10)
		b = append(b, `,"modified":`...)
		b = strconv.AppendInt(b, rec.Modified, 10)
	}
	if rec.ModifiedBy != "" {
		b = append(b, `,"modifiedBy":`...)
		b = appendString(b, rec.ModifiedBy)
	}
	return b
}

func (s *Server) set(ctx context.Context, sess *Session, req *request, opts *requestOptions) error {
	if err := needPath(req); err != nil {
		return err
	}
	as, err := s.authorize(ctx, sess, req.path, "set", opts)
	if err != nil {
		return err
	}
	raw := req.Data
	if opts.NullValue || len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if len(opts.Increment) > 0 {
		return s.increment(ctx, sess, req, opts, raw, as)
	}
	data, err := wrapValue(raw)
	if err != nil {
		return plainError("invalid data: %v", err)
	}
	rec := &store.Record{Path: req.path, Data: data}
	if !opts.NoStore {
		rec, err = s.store.Set(ctx, req.path, data, store.SetOptions{Merge: opts.Merge, ModifiedBy: actorName(sess, as), Now: s.now(), Validated: true})
		if err != nil {
			return SystemError(err, "DataService")
		}
	}
	idle, batch := sess.readerState()
	p := &publication{
		op:      actionSet,
		path:    req.path,
		data:    rec.Data,
		rawData: raw,
		created: rec.Created, modified: rec.Modified,
		as:         as,
		readerIdle: idle,
		batch:      batch,
	}
	kind := replyItem
	if opts.NoDataResponse {
		kind = replyNoData
	}
	s.writeAndPublish(sess, req, opts, p, &writeReply{kind: kind, data: rec.Data, rec: rec})
	return nil
}

// increment adds options.increment to the gauge named by the request data.
func (s *Server) increment(ctx context.Context, sess *Session, req *request, opts *requestOptions, raw json.RawMessage, as *security.Session) error {
	var by float64
	if err := json.Unmarshal(opts.Increment, &by); err != nil {
		return plainError("increment option value must be a number")
	}
	var gauge string
	if err := json.Unmarshal(raw, &gauge); err != nil || len(raw) == 0 || raw[0] != '"' {
		return plainError("invalid increment counter field name, must be a string")
	}
	total, err := s.store.Increment(ctx, req.path, gauge, by)
	if err != nil {
		return SystemError(err, "DataService")
	}
	data := []byte(`{"value":`)
	data = appendFloat(data, total)
	data = append(data, `,"gauge":`...)
	data = appendString(data, gauge)
	data = append(data, '}')
	p := &publication{op: actionSet, path: req.path, data: data, rawData: raw, as: as}
	s.writeAndPublish(sess, req, opts, p, &writeReply{kind: replyData, data: data})
	return nil
}

// trimComma drops the leading comma of a members fragment.
func trimComma(b []byte) []byte {
	if len(b) > 0 && b[0] == ',' {
		return b[1:]
	}
	return b
}

// parseQuery reads the search options of a get, count or remove.
func parseQuery(req *request, opts *requestOptions) (*query.Query, error) {
	if !opts.hasQuery {
		return nil, nil
	}
	q, err := query.Parse(req.Options)
	if err != nil {
		return nil, SystemError(err, "DataService")
	}
	return q, nil
}

// queryError reports a store error of a get or count: a store that cannot
// run an aggregate pipeline or a collation answers happn's "feature not
// available" errors.
func queryError(err error, path string) error {
	switch {
	case errors.Is(err, query.ErrAggregate):
		return SystemError(query.PathError(query.ErrAggregate, path), "DataService")
	case errors.Is(err, query.ErrCollation):
		return SystemError(query.PathError(query.ErrCollation, path), "DataService")
	}
	return SystemError(err, "DataService")
}

// aggregate answers a get with an aggregate pipeline: {"value": [...]},
// the pipeline's output, as happn-3 does on MongoDB. The output cannot be
// narrowed to the records a user may see, so a user whose rights on the
// path are per item (nested permissions, or prohibitions below it) may not
// aggregate over it.
func (s *Server) aggregate(ctx context.Context, sess *Session, req *request, q *query.Query, perItem bool) error {
	if perItem {
		e := errs.AccessDenied("unauthorized")
		e.Reason = "an aggregate needs get permission on every path " + req.path + " covers"
		return e
	}
	res, err := store.Aggregate(ctx, s.store, req.path, q)
	if err != nil {
		return queryError(err, req.path)
	}
	data := make([]byte, 0, len(res)+10)
	data = append(data, `{"value":`...)
	data = append(data, res...)
	sess.send(okFrame(sess, req, append(data, '}'), nil, false))
	return nil
}

// dataPath checks the path of get and count, which may hold wildcards.
func dataPath(req *request) error {
	if len(req.Path) == 0 || req.Path[0] != '"' {
		return badPathType(req)
	}
	return nil
}

func (s *Server) get(ctx context.Context, sess *Session, req *request, opts *requestOptions) error {
	if err := dataPath(req); err != nil {
		return err
	}
	as, nested, under, err := s.authorizeItems(ctx, sess, req.path, "get", opts)
	if err != nil {
		return err
	}
	q, err := parseQuery(req, opts)
	if err != nil {
		return err
	}
	if q != nil && q.Aggregate != nil {
		return s.aggregate(ctx, sess, req, q, nested || under)
	}
	pathOnly := q != nil && q.PathOnly
	if !pathmatch.HasWildcard(req.path) && !pathOnly {
		var rec *store.Record
		if q == nil {
			rec, err = s.store.Get(ctx, req.path)
		} else {
			var recs []*store.Record
			if recs, err = s.store.Find(ctx, req.path, q); len(recs) > 0 {
				rec = recs[0]
			}
		}
		if err != nil {
			return queryError(err, req.path)
		}
		if rec == nil {
			sess.send(okFrame(sess, req, nil, nil, false))
			return nil
		}
		sess.send(itemFrame(sess, req, rec.Data, rec, nil, false))
		return nil
	}
	var recs []*store.Record
	if nested || under {
		recs, err = s.findPermitted(ctx, as, req.path, q)
	} else {
		recs, err = s.store.Find(ctx, req.path, q)
	}
	if err != nil {
		return queryError(err, req.path)
	}
	sess.send(listFrame(sess, req, recs, pathOnly))
	return nil
}

// findPermitted finds the records of a per-item get or count that its
// identity may get. Skip and limit page what it may get: paged before the
// others are left out, a page that comes back short would tell that hidden
// items matched the criteria, and criteria can then read a hidden value one
// guess at a time.
func (s *Server) findPermitted(ctx context.Context, as *security.Session, path string, q *query.Query) ([]*store.Record, error) {
	find := q
	if q != nil && (q.Skip > 0 || q.Limit > 0) {
		unpaged := *q
		unpaged.Skip, unpaged.Limit = 0, 0
		find = &unpaged
	}
	recs, err := s.store.Find(ctx, path, find)
	if err != nil {
		return nil, err
	}
	recs = s.permittedRecords(ctx, as, recs)
	if find != q {
		recs = recs[min(q.Skip, len(recs)):]
		if q.Limit > 0 && len(recs) > q.Limit {
			recs = recs[:q.Limit]
		}
	}
	return recs, nil
}

// listFrame builds the array form of a reply: [item…, responseMeta].
func listFrame(sess *Session, req *request, recs []*store.Record, pathOnly bool) []byte {
	size := 128
	for _, r := range recs {
		size += len(r.Data) + len(r.Path) + 64
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	meta := make([]byte, 0, 96)
	for _, r := range recs {
		if pathOnly {
			b = append(b, `{"_meta":{"path":`...)
			b = appendString(b, r.Path)
			b = append(b, "}},"...)
			continue
		}
		meta = append(meta[:0], '{')
		meta = appendItemMeta(meta, r)
		meta = append(meta, '}')
		b = appendMergedItem(b, r.Data, meta)
		b = append(b, ',')
	}
	b = append(b, '{')
	b = appendResponseMeta(b, sess, req, "ok", false)
	return append(b, '}', ']')
}

func (s *Server) count(ctx context.Context, sess *Session, req *request, opts *requestOptions) error {
	if err := dataPath(req); err != nil {
		return err
	}
	// count is authorised as get (happn-3 does not check it at all), and
	// counts only what the user may get
	as, nested, under, err := s.authorizeItems(ctx, sess, req.path, "get", opts)
	if err != nil {
		return err
	}
	q, err := parseQuery(req, opts)
	if err != nil {
		return err
	}
	if q != nil {
		q.Aggregate = nil // a count counts; happn-3 reads no pipeline for it
	}
	var n int
	if nested || under {
		var recs []*store.Record
		if recs, err = s.findPermitted(ctx, as, req.path, q); err == nil {
			n = len(recs)
		}
	} else {
		n, err = s.store.Count(ctx, req.path, q)
	}
	if err != nil {
		return queryError(err, req.path)
	}
	data := strconv.AppendInt([]byte(`{"value":`), int64(n), 10)
	sess.send(okFrame(sess, req, append(data, '}'), nil, false))
	return nil
}

func (s *Server) remove(ctx context.Context, sess *Session, req *request, opts *requestOptions) error {
	if err := needPath(req); err != nil {
		return err
	}
	as, err := s.authorize(ctx, sess, req.path, "remove", opts)
	if err != nil {
		return err
	}
	if as != nil {
		// a wildcard remove that would reach a path where removing is
		// prohibited is refused as a whole (a prohibition always wins)
		under, err := s.sec.ProhibitionUnder(ctx, as, req.path, "remove")
		if err != nil {
			return err
		}
		if under {
			e := errs.AccessDenied("unauthorized")
			e.Reason = "removing is prohibited on some of the paths " + req.path + " covers"
			return e
		}
	}
	q, err := parseQuery(req, opts)
	if err != nil {
		return err
	}
	if q != nil {
		// happn-3 removes by path and criteria alone
		q.Aggregate, q.Collation = nil, nil
	}
	n, err := s.store.Remove(ctx, req.path, q)
	if err != nil {
		return SystemError(errors.New("error removing item on path "+req.path), "DataService")
	}
	data := strconv.AppendInt([]byte(`{"removed":`), int64(n), 10)
	data = append(data, '}')
	p := &publication{op: actionRemove, path: req.path, data: data, rawData: json.RawMessage("null"), as: as}
	itemMeta := strconv.AppendInt([]byte(`"timestamp":`), s.now(), 10)
	itemMeta = append(itemMeta, `,"path":`...)
	itemMeta = appendString(itemMeta, req.path)
	s.writeAndPublish(sess, req, opts, p, &writeReply{kind: replyData, data: data, itemMeta: itemMeta})
	return nil
}

// actorName is the username a write is recorded as: the delegated user of
// an onBehalfOf request, else the session's user.
func actorName(sess *Session, as *security.Session) string {
	if as != nil {
		return as.Username
	}
	return sess.username()
}

// now returns the server clock in milliseconds.
func (s *Server) now() int64 { return s.cfg.Clock().UnixMilli() }
