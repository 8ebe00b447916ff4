// Package postgres is the shared happn datastore of a cluster: every record
// is one row of a PostgreSQL table, reached through a pgx connection pool.
//
// The table (default happner_data) is created at Open when missing:
//
//	path        text COLLATE "C" PRIMARY KEY  -- byte order, as the other stores
//	data        jsonb NOT NULL                -- what criteria and sort run on
//	raw         text                          -- the bytes the caller wrote, NULL after merge/increment
//	created     bigint NOT NULL               -- ms since the epoch
//	modified    bigint NOT NULL
//	modified_by text NOT NULL DEFAULT ''
//
// The primary key index is in "C" (byte) order, so it serves both the default
// order and prefix scans (a pattern such as "/a/b/*" becomes a range on its
// literal prefix plus an escaped LIKE), as a text_pattern_ops index would.
//
// Raw bytes: jsonb normalises what it stores (key order, whitespace,
// duplicate keys, number spelling), so a plain Set also keeps the caller's
// bytes in raw and reads return them unchanged, as the memory store does.
// A merge or an increment computes the new object in SQL; reads then return
// PostgreSQL's rendering of the jsonb value (the same JSON value, spelled
// differently, e.g. {"a": 1}). jsonb cannot hold the character U+0000 in a
// string, and PostgreSQL text holds only valid UTF-8 without NUL: such data
// is refused with an error wrapping store.ErrNotObject, such paths with a
// clear error (reads of them find nothing).
//
// Queries: the path pattern, and the criteria, sort, skip and limit that
// translate exactly, run in SQL (jsonb operators on data; the path, created,
// modified and modifiedBy columns); criteria that do not ($regex, $elemMatch,
// $contains, nested fields that may cross arrays) narrow nothing in SQL and
// run in Go with store.Refine, and then sort and paging run in Go too. The
// results are the memory store's in every case.
//
// Merge (data || new, shallow) and Increment (jsonb_set on
// data->gauge->value) are single atomic statements. When the database cannot
// be reached, calls fail with an error wrapping store.ErrUnavailable; the
// pool reconnects by itself once the database is back.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// DefaultTable is the table used when Options.Table is empty.
const DefaultTable = "happner_data"

// openTimeout bounds Open when called through an [Opener].
const openTimeout = 30 * time.Second

// defaultConnectTimeout bounds each new connection when the URL sets no
// connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Options configure a PostgreSQL store.
type Options struct {
	// URL is the connection string: a postgres:// URL or key=value pairs
	// (libpq syntax, PG* environment variables apply).
	URL string
	// Table names the table, optionally schema-qualified ("happn.data");
	// empty means [DefaultTable].
	Table string
	// PoolSize is the maximum number of connections; 0 keeps pgx's default
	// (the larger of 4 and the number of CPUs).
	PoolSize int
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// OptionsFromSettings reads the settings of a happn datastore config:
//
//	{"url": "postgres://user:pass@host/db", "table": "happner_data", "poolSize": 10}
//
// "connectionString" is accepted for "url". Unset values keep those of
// defaults.
func OptionsFromSettings(settings map[string]any, defaults Options) (Options, error) {
	o := defaults
	for _, key := range []string{"connectionString", "url"} {
		if v, ok := settings[key]; ok && v != nil {
			s, isStr := v.(string)
			if !isStr {
				return o, fmt.Errorf("postgres: settings.%s must be a string, got %T", key, v)
			}
			o.URL = s
		}
	}
	if v, ok := settings["table"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return o, fmt.Errorf("postgres: settings.table must be a string, got %T", v)
		}
		o.Table = s
	}
	n, err := store.PoolSizeSetting(settings)
	if err != nil {
		return o, fmt.Errorf("postgres: %w", err)
	}
	if n > 0 {
		o.PoolSize = n
	}
	return o, nil
}

// Opener returns a [store.Opener] for datastores whose provider is
// PostgreSQL: each datastore's settings (see [OptionsFromSettings]) override
// defaults, and Open is given 30 seconds.
func Opener(defaults Options) store.Opener {
	return store.SettingsOpener(defaults, OptionsFromSettings, Open, openTimeout)
}

// Store is a PostgreSQL [store.Store]. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	table  string // quoted identifier
	closed atomic.Bool

	sqlGet, sqlSet, sqlMerge, sqlIncr string
}

var _ store.Store = (*Store)(nil)

// Open connects to the database and creates the table and its index when
// they are missing. It fails with an error wrapping store.ErrUnavailable
// when the database cannot be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if strings.TrimSpace(opts.URL) == "" {
		return nil, errors.New("postgres: no connection URL (settings.url or settings.connectionString)")
	}
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("postgres: invalid table name %q (letters, digits and _, optionally schema.table)", table)
	}
	if opts.PoolSize < 0 {
		return nil, fmt.Errorf("postgres: pool size %d is negative", opts.PoolSize)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: invalid connection URL (see the PostgreSQL connection string syntax)")
	}
	if opts.PoolSize > 0 {
		cfg.MaxConns = int32(opts.PoolSize)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A server that does not answer is unavailable, not a hang
		// (connect_timeout in the URL overrides this).
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: creating the pool: %w", err)
	}
	s := &Store{pool: pool, table: pgx.Identifier(strings.Split(table, ".")).Sanitize()}
	s.prepareSQL()
	if err := s.createTable(ctx, table); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// createTable creates the table when missing, serialised between processes
// by an advisory lock so that members starting together do not collide.
// It is one statement that the server runs from start to end: the lock is
// held for the creation alone, never across a round trip to a client, so
// that fifty processes opening their stores at once queue for milliseconds
// rather than for each other's turn on a busy CPU.
func (s *Store) createTable(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `DO $$BEGIN
PERFORM pg_advisory_xact_lock(hashtext(`+quoteLiteral("happner-go:"+name)+`));
CREATE TABLE IF NOT EXISTS `+s.table+` (
	path text COLLATE "C" PRIMARY KEY,
	data jsonb NOT NULL,
	raw text,
	created bigint NOT NULL,
	modified bigint NOT NULL,
	modified_by text NOT NULL DEFAULT ''
);
END$$`)
	return s.wrap(ctx, "creating table "+name, err)
}

// quoteLiteral returns v as an SQL string literal.
func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// prepareSQL builds the fixed statements.
func (s *Store) prepareSQL() {
	t := s.table
	s.sqlGet = `SELECT path, COALESCE(raw, data::text), created, modified, modified_by FROM ` + t + ` WHERE path = $1`
	s.sqlSet = `INSERT INTO ` + t + ` AS t (path, data, raw, created, modified, modified_by)
VALUES ($1, $2::text::jsonb, $2::text, $3, $3, $4)
ON CONFLICT (path) DO UPDATE SET data = excluded.data, raw = excluded.raw,
	modified = excluded.modified, modified_by = excluded.modified_by
RETURNING created`
	s.sqlMerge = `INSERT INTO ` + t + ` AS t (path, data, raw, created, modified, modified_by)
VALUES ($1, $2::text::jsonb, $2::text, $3, $3, $4)
ON CONFLICT (path) DO UPDATE SET data = t.data || excluded.data, raw = NULL,
	modified = excluded.modified, modified_by = excluded.modified_by
RETURNING COALESCE(raw, data::text), created`
	// $2 gauge, $3 by. The WHERE refuses (no row returned) a gauge that is
	// neither missing, null nor an object whose value is missing, null or a
	// number.
	s.sqlIncr = `INSERT INTO ` + t + ` AS t (path, data, raw, created, modified, modified_by)
VALUES ($1, jsonb_build_object($2::text, jsonb_build_object('value', $3::float8)), NULL, $4, $4, '')
ON CONFLICT (path) DO UPDATE SET
	data = jsonb_set(t.data, ARRAY[$2::text],
		COALESCE(NULLIF(t.data -> $2::text, 'null'::jsonb), '{}'::jsonb) ||
		jsonb_build_object('value',
			COALESCE((NULLIF(t.data -> $2::text -> 'value', 'null'::jsonb))::float8, 0) + $3::float8),
		true),
	raw = NULL, modified = excluded.modified
WHERE t.data -> $2::text IS NULL OR t.data -> $2::text = 'null'::jsonb OR
	(jsonb_typeof(t.data -> $2::text) = 'object' AND (t.data -> $2::text -> 'value' IS NULL OR
		jsonb_typeof(t.data -> $2::text -> 'value') IN ('null', 'number')))
RETURNING (data -> $2::text ->> 'value')::float8`
}

// errBadPath is returned for a path PostgreSQL text cannot hold.
var errBadPath = errors.New("path must be valid UTF-8 without NUL characters to be stored in PostgreSQL")

// storable reports whether PostgreSQL text can hold path (or a pattern):
// valid UTF-8 without NUL. No stored path is anything else.
func storable(path string) bool {
	return utf8.ValidString(path) && !strings.ContainsRune(path, 0)
}

// begin checks the context and the store's state before a call.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// Get returns the record at path, or nil.
func (s *Store) Get(ctx context.Context, path string) (*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !storable(path) {
		return nil, nil // no such record can exist
	}
	var rec *store.Record
	err := s.retry(ctx, func() error {
		r, err := scanRecord(s.pool.QueryRow(ctx, s.sqlGet, path))
		if errors.Is(err, pgx.ErrNoRows) {
			rec = nil
			return nil
		}
		rec = r
		return err
	})
	if err != nil {
		return nil, s.wrap(ctx, "get "+path, err)
	}
	return rec, nil
}

// Set writes data at path and returns the stored record.
func (s *Store) Set(ctx context.Context, path string, data json.RawMessage, opts store.SetOptions) (*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, store.ErrEmptyPath
	}
	if !storable(path) {
		return nil, fmt.Errorf("postgres: set %q: %w", path, errBadPath)
	}
	if err := store.CheckSetData(data, opts); err != nil {
		return nil, err
	}
	now := store.WriteTime(opts)
	rec := &store.Record{Path: path, Modified: now, ModifiedBy: opts.ModifiedBy}
	var err error
	if opts.Merge {
		var merged string
		err = s.retry(ctx, func() error {
			return s.pool.QueryRow(ctx, s.sqlMerge, path, string(data), now, opts.ModifiedBy).Scan(&merged, &rec.Created)
		})
		rec.Data = json.RawMessage(merged)
	} else {
		err = s.retry(ctx, func() error {
			return s.pool.QueryRow(ctx, s.sqlSet, path, string(data), now, opts.ModifiedBy).Scan(&rec.Created)
		})
		rec.Data = append(json.RawMessage(nil), data...)
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "22P02" || pgErr.Code == "22P05" || pgErr.Code == "22021") {
			return nil, fmt.Errorf("%w: postgres refused it: %s", store.ErrNotObject, pgErr.Message)
		}
		return nil, s.wrap(ctx, "set "+path, err)
	}
	return rec, nil
}

// Increment atomically adds by to data[gauge].value at path and returns the
// new total.
func (s *Store) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if path == "" {
		return 0, store.ErrEmptyPath
	}
	if !storable(path) {
		return 0, fmt.Errorf("postgres: increment %q: %w", path, errBadPath)
	}
	if gauge == "" {
		return 0, errors.New("store: empty gauge name")
	}
	if math.IsNaN(by) || math.IsInf(by, 0) {
		return 0, fmt.Errorf("store: increment by %v: not a finite number", by)
	}
	now := store.WriteTime(store.SetOptions{})
	var total float64
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, s.sqlIncr, path, gauge, by, now).Scan(&total)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: gauge %q of %s is not an object with a numeric value", gauge, path)
	}
	if err != nil {
		return 0, s.wrap(ctx, "increment "+path, err)
	}
	return total, nil
}

// plan is a Find, Count or Remove translated to SQL: the WHERE clause, the
// ORDER BY and paging when they run in SQL, and the part of the query left
// for Go.
type plan struct {
	b       builder
	where   string
	orderBy string
	page    string
	goQuery *query.Query // nil when SQL did everything
	exact   bool         // the SQL filter is exact
}

// newPlan translates pattern and q.
func newPlan(pattern string, q *query.Query) *plan {
	p := &plan{}
	var conds []string
	if c := p.b.patternSQL(pattern); c != "" {
		conds = append(conds, c)
	}
	p.exact = true
	var goq query.Query
	if q != nil && q.Filter != nil {
		sql, k := p.b.filterSQL(q.Filter)
		if k != none {
			conds = append(conds, sql)
		}
		if k != exact {
			p.exact = false
			goq.Filter = q.Filter
		}
	}
	if len(conds) > 0 {
		p.where = " WHERE " + strings.Join(conds, " AND ")
	}
	p.orderBy = ` ORDER BY path COLLATE "C"`
	if q != nil {
		var terms []string
		sortOK := false
		if p.exact { // paging in SQL needs the exact set of rows
			terms, sortOK = p.b.sortSQL(q.Sort)
		}
		if sortOK {
			p.orderBy = " ORDER BY " + strings.Join(append(terms, `path COLLATE "C"`), ", ")
			if q.Limit > 0 {
				p.page += fmt.Sprintf(" LIMIT %d", q.Limit)
			}
			if q.Skip > 0 {
				p.page += fmt.Sprintf(" OFFSET %d", q.Skip)
			}
		} else {
			goq.Sort, goq.Skip, goq.Limit = q.Sort, q.Skip, q.Limit
		}
		goq.Fields, goq.PathOnly = q.Fields, q.PathOnly
	}
	if goq.Filter != nil || goq.Sort != nil || goq.Skip > 0 || goq.Limit > 0 || goq.Fields != nil || goq.PathOnly {
		p.goQuery = &goq
	}
	return p
}

// Find returns the records matching pattern and q.
func (s *Store) Find(ctx context.Context, pattern string, q *query.Query) ([]*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := q.RefuseMongoOptions(); err != nil {
		return nil, err
	}
	if !storable(pattern) {
		return nil, nil
	}
	p := newPlan(pattern, q)
	cols := `path, COALESCE(raw, data::text), created, modified, modified_by`
	if q != nil && q.PathOnly && p.goQuery != nil && p.goQuery.Filter == nil && p.goQuery.Sort == nil {
		cols = `path, '{}', created, modified, modified_by` // the data is never looked at
	}
	sql := "SELECT " + cols + " FROM " + s.table + p.where + p.orderBy + p.page
	var recs []*store.Record
	err := s.retry(ctx, func() error {
		var err error
		recs, err = s.query(ctx, sql, p.b.args)
		return err
	})
	if err != nil {
		return nil, s.wrap(ctx, "find "+pattern, err)
	}
	if p.goQuery == nil {
		return recs, nil
	}
	return store.Refine(ctx, recs, p.goQuery, nil)
}

// Count returns how many records Find would return.
func (s *Store) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if err := q.RefuseMongoOptions(); err != nil {
		return 0, err
	}
	if !storable(pattern) {
		return 0, nil
	}
	var filterOnly *query.Query
	if q != nil && q.Filter != nil {
		filterOnly = &query.Query{Filter: q.Filter}
	}
	p := newPlan(pattern, filterOnly)
	if !p.exact {
		// Find applies the filter (in SQL as far as it goes, then in Go);
		// page what is left.
		recs, err := s.Find(ctx, pattern, &query.Query{Filter: q.Filter})
		if err != nil {
			return 0, err
		}
		start, end := q.Page(len(recs))
		return end - start, nil
	}
	var n int
	err := s.retry(ctx, func() error {
		return s.pool.QueryRow(ctx, "SELECT count(*) FROM "+s.table+p.where, p.b.args...).Scan(&n)
	})
	if err != nil {
		return 0, s.wrap(ctx, "count "+pattern, err)
	}
	if q == nil {
		return n, nil
	}
	start, end := q.Page(n)
	return end - start, nil
}

// Remove deletes the records matching pattern and q's filter and returns how
// many were removed. A filter that does not translate exactly is applied in
// Go to rows locked by the same transaction.
func (s *Store) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if err := q.RefuseMongoOptions(); err != nil {
		return 0, err
	}
	if !storable(pattern) {
		return 0, nil
	}
	var filterOnly *query.Query
	if q != nil && q.Filter != nil {
		filterOnly = &query.Query{Filter: q.Filter}
	}
	p := newPlan(pattern, filterOnly)
	var n int
	var err error
	if p.exact {
		err = s.retry(ctx, func() error {
			tag, err := s.pool.Exec(ctx, "DELETE FROM "+s.table+p.where, p.b.args...)
			n = int(tag.RowsAffected())
			return err
		})
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			recs, err := s.query(ctx, "SELECT path, COALESCE(raw, data::text), created, modified, modified_by FROM "+
				s.table+p.where+p.orderBy+" FOR UPDATE", p.b.args, tx)
			if err != nil {
				return err
			}
			keep, err := store.Filter(ctx, recs, filterOnly, nil)
			if err != nil || len(keep) == 0 {
				return err
			}
			paths := make([]string, len(keep))
			for i, r := range keep {
				paths[i] = r.Path
			}
			tag, err := tx.Exec(ctx, "DELETE FROM "+s.table+" WHERE path = ANY($1::text[])", paths)
			n = int(tag.RowsAffected())
			return err
		})
	}
	if err != nil {
		return 0, s.wrap(ctx, "remove "+pattern, err)
	}
	return n, nil
}

// Close closes the pool; later calls return store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// query runs a SELECT of record columns on the pool (or on tx when given).
func (s *Store) query(ctx context.Context, sql string, args []any, tx ...pgx.Tx) ([]*store.Record, error) {
	var q querier = s.pool
	if len(tx) > 0 {
		q = tx[0]
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanRecord reads the record columns of one row.
func scanRecord(row pgx.Row) (*store.Record, error) {
	var r store.Record
	var data string
	if err := row.Scan(&r.Path, &data, &r.Created, &r.Modified, &r.ModifiedBy); err != nil {
		return nil, err
	}
	r.Data = json.RawMessage(data)
	return &r, nil
}

// retry runs fn, once more when it failed before anything reached the
// server (a pooled connection found dead, for instance).
func (s *Store) retry(ctx context.Context, fn func() error) error {
	err := fn()
	if err != nil && ctx.Err() == nil && pgconn.SafeToRetry(err) {
		err = fn()
	}
	return err
}

// wrap describes a database error: context errors stay themselves, errors
// of an unreachable database wrap store.ErrUnavailable.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("postgres: %s: %w", op, ctx.Err())
	}
	if s.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	if unavailable(err) {
		return fmt.Errorf("%w: postgres: %s: the database cannot be reached: %w", store.ErrUnavailable, op, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err means the database cannot be reached (as
// opposed to an error in the statement or the data).
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, starting up
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case pgconn.SafeToRetry(err), pgconn.Timeout(err):
		return true
	}
	return strings.Contains(err.Error(), "conn closed")
}
