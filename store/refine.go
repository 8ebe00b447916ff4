package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/happner-go/happner/query"
)

// DocFunc returns the query document (see [Record.Doc]) of the i-th record
// given to [Refine]. Providers that cache decoded documents pass their own;
// nil means decode with [Record.Doc].
type DocFunc func(i int) (map[string]any, error)

// checkEvery is how many records are evaluated between context checks.
const checkEvery = 1024

// Refine applies q to records that already match a path pattern and are in
// path order (the default order, as paths are unique within one store): it
// keeps those matching q's filter, sorts them by q's sort keys (ties keep
// path order), pages them by Skip and Limit, and projects their data by
// Fields. Projected and path-only records are fresh copies; the others are
// returned as given. A nil q returns recs unchanged. A q with an aggregate
// pipeline or a collation, which Go cannot evaluate, is refused with
// query.ErrAggregate or query.ErrCollation.
func Refine(ctx context.Context, recs []*Record, q *query.Query, doc DocFunc) ([]*Record, error) {
	return refine(ctx, recs, q, doc, true)
}

// RefineCount returns len(Refine(...)) without projecting anything.
func RefineCount(ctx context.Context, recs []*Record, q *query.Query, doc DocFunc) (int, error) {
	out, err := refine(ctx, recs, q, doc, false)
	return len(out), err
}

// Filter returns the records of recs that match q's filter, ignoring its
// sort, paging and projection (the narrowing a Remove applies). Like
// [Refine] it refuses a collation.
func Filter(ctx context.Context, recs []*Record, q *query.Query, doc DocFunc) ([]*Record, error) {
	if err := q.RefuseMongoOptions(); err != nil {
		return nil, err
	}
	if q == nil || q.Filter == nil {
		return recs, nil
	}
	out, _, err := filter(ctx, recs, q, doc)
	return out, err
}

func refine(ctx context.Context, recs []*Record, q *query.Query, doc DocFunc, project bool) ([]*Record, error) {
	if q == nil {
		return recs, nil
	}
	if err := q.RefuseMongoOptions(); err != nil {
		return nil, err
	}
	needDocs := q.Filter != nil || len(q.Sort) > 0 || (project && q.Fields != nil && !q.PathOnly)
	var docs []map[string]any
	if needDocs {
		var err error
		if recs, docs, err = filter(ctx, recs, q, doc); err != nil {
			return nil, err
		}
	}
	if len(q.Sort) > 0 && len(recs) > 1 {
		sort.Stable(&byQuery{q: q, recs: recs, docs: docs})
	}
	start, end := q.Page(len(recs))
	recs, docs = recs[start:end], sliceDocs(docs, start, end)
	if !project {
		return recs, nil
	}
	switch {
	case q.PathOnly:
		out := make([]*Record, len(recs))
		for i, r := range recs {
			out[i] = &Record{Path: r.Path, Data: json.RawMessage("{}"), Created: r.Created, Modified: r.Modified, ModifiedBy: r.ModifiedBy}
		}
		return out, nil
	case q.Fields != nil:
		out := make([]*Record, len(recs))
		for i, r := range recs {
			data, _ := docs[i]["data"].(map[string]any)
			b, err := json.Marshal(q.ProjectData(data))
			if err != nil {
				return nil, fmt.Errorf("store: projecting %s: %w", r.Path, err)
			}
			cp := *r
			cp.Data = b
			out[i] = &cp
		}
		return out, nil
	}
	return recs, nil
}

// filter returns the records matching q's filter (all when it is nil) with
// their documents.
func filter(ctx context.Context, recs []*Record, q *query.Query, doc DocFunc) ([]*Record, []map[string]any, error) {
	outR := make([]*Record, 0, len(recs))
	outD := make([]map[string]any, 0, len(recs))
	for i, r := range recs {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		var d map[string]any
		var err error
		if doc != nil {
			d, err = doc(i)
		} else {
			d, err = r.Doc()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("store: decoding %s: %w", r.Path, err)
		}
		if q.Filter != nil && !q.Match(d) {
			continue
		}
		outR = append(outR, r)
		outD = append(outD, d)
	}
	return outR, outD, nil
}

func sliceDocs(docs []map[string]any, start, end int) []map[string]any {
	if docs == nil {
		return nil
	}
	return docs[start:end]
}

// byQuery sorts records and their documents together by q.Less.
type byQuery struct {
	q    *query.Query
	recs []*Record
	docs []map[string]any
}

func (s *byQuery) Len() int           { return len(s.recs) }
func (s *byQuery) Less(i, j int) bool { return s.q.Less(s.docs[i], s.docs[j]) }
func (s *byQuery) Swap(i, j int) {
	s.recs[i], s.recs[j] = s.recs[j], s.recs[i]
	s.docs[i], s.docs[j] = s.docs[j], s.docs[i]
}
