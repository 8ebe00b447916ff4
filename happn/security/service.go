// Package security is happn's security service: users, groups, permissions,
// lookup tables, session profiles and policies, password / digest / token
// logins, session tokens and their revocation, and the authorisation of
// every data action.
//
// Everything is persisted through a [store.Store] at happn's system paths
// (§4.14), so servers sharing a database share users, permissions, the token
// secret and revocations. The [Service] caches what it reads; every change
// made through it invalidates the caches and is announced to [Service.OnChange]
// listeners, and [Service.ApplyRemoteChange] does the same for a change made
// by another node of a cluster.
package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/happner-go/happner/store"
)

// System paths.
const (
	pathSecret      = "/_SYSTEM/_SECURITY/SESSION_TOKEN_SECRET"
	pathUser        = "/_SYSTEM/_SECURITY/_USER/"
	pathGroup       = "/_SYSTEM/_SECURITY/_GROUP/"
	pathPerms       = "/_SYSTEM/_SECURITY/_PERMISSIONS/"
	pathUserPerms   = "/_SYSTEM/_SECURITY/_PERMISSIONS/_USER/"
	pathLookup      = "/_SYSTEM/_SECURITY/_LOOKUP/"
	pathLookupPerms = "/_SYSTEM/_SECURITY/_PERMISSIONS/_LOOKUP/"
	pathRevoked     = "/_SYSTEM/_CACHE/cache_revoked_tokens/"
	userGroupSeg    = "/_USER_GROUP/"
)

// Reserved names.
const (
	AdminUser      = "_ADMIN"
	AdminGroup     = "_ADMIN"
	AnonymousUser  = "_ANONYMOUS"
	anonymousPass  = "anonymous"
	adminGroupDesc = "the default administration group for happn"
)

// Change is one security directory change, as announced to OnChange
// listeners and replicated between cluster nodes.
type Change struct {
	// Event is happn's change name: "upsert-user", "delete-user",
	// "upsert-group", "delete-group", "link-group", "unlink-group",
	// "permission-upserted", "permission-removed", "token-revoked",
	// "token-restored", "lookup-table-changed", "lookup-permission-changed".
	Event string `json:"event"`
	// Data describes the change (the user, group, permission or token).
	Data json.RawMessage `json:"data,omitempty"`
	// Users names the users whose rights may have changed; nil means
	// possibly every user, an empty list none. The JSON form keeps the
	// difference (null and []), so that a node applying a replicated
	// change reaches the same sessions as the node that made it.
	Users []string `json:"users"`
}

// Service is the security service. All methods are safe for concurrent use.
type Service struct {
	st       store.Store
	cfg      Config
	profiles []compiledProfile
	now      func() time.Time

	secret atomic.Pointer[[]byte]
	gen    atomic.Uint64 // bumped on every directory change

	mu       sync.Mutex // guards the directory caches below
	users    map[string]*userEntry
	groups   map[string]*groupEntry
	permSets map[string]*permSet
	tables   map[string][]string
	behalf   map[string]*Session

	sessMu   sync.RWMutex
	sessions map[string]*sessState

	revMu   sync.RWMutex
	revoked map[string]RevokedToken

	nonceMu sync.Mutex
	nonces  map[string][]nonceEntry // by public key, oldest first

	lockMu          sync.Mutex
	lockouts        map[string]lockEntry // failures of existing users
	unknownLockouts map[string]lockEntry // failures under names that are not users (bounded)
	dummyOnce       sync.Once
	dummy           string            // see dummyHash
	verified        verifiedPasswords // passwords that matched lately
	// verifyPassword checks a login's password against a stored hash
	// (VerifyPassword; tests count its runs)
	verifyPassword func(password, hash string) (bool, error)

	lisMu     sync.Mutex
	listeners map[int]func(Change)
	loginLis  map[int]func(LoginAttempt)
	nextLis   int

	qMu        sync.Mutex
	queue      []Change
	delivering bool
}

// New starts the security service over st: it upserts the _ADMIN group
// (permission * on *), creates the _ADMIN user when absent (password
// cfg.AdminPassword, default "happn") and _ANONYMOUS when anonymous access
// is allowed, loads or creates the session token secret and loads the
// revoked tokens.
func New(ctx context.Context, st store.Store, cfg Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("security: nil store")
	}
	cfg = cfg.withDefaults()
	s := &Service{
		st:              st,
		cfg:             cfg,
		now:             time.Now,
		users:           map[string]*userEntry{},
		groups:          map[string]*groupEntry{},
		permSets:        map[string]*permSet{},
		tables:          map[string][]string{},
		behalf:          map[string]*Session{},
		sessions:        map[string]*sessState{},
		revoked:         map[string]RevokedToken{},
		nonces:          map[string][]nonceEntry{},
		lockouts:        map[string]lockEntry{},
		unknownLockouts: map[string]lockEntry{},
		listeners:       map[int]func(Change){},
		verifyPassword:  VerifyPassword,
	}
	var err error
	if s.profiles, err = compileProfiles(cfg.Profiles); err != nil {
		return nil, err
	}
	if err := s.loadSecret(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.loadRevocations(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

func (s *Service) loadSecret(ctx context.Context) error {
	if s.cfg.SessionTokenSecret != "" {
		data, _ := json.Marshal(map[string]string{"secret": s.cfg.SessionTokenSecret})
		if _, err := s.st.Set(ctx, pathSecret, data, store.SetOptions{}); err != nil {
			return fmt.Errorf("security: store token secret: %w", err)
		}
		b := []byte(s.cfg.SessionTokenSecret)
		s.secret.Store(&b)
		return nil
	}
	rec, err := s.st.Get(ctx, pathSecret)
	if err != nil {
		return fmt.Errorf("security: load token secret: %w", err)
	}
	if sec := recordSecret(rec); sec != "" {
		b := []byte(sec)
		s.secret.Store(&b)
		return nil
	}
	data, _ := json.Marshal(map[string]string{"secret": uuid.NewString() + uuid.NewString()})
	if _, err := s.st.Set(ctx, pathSecret, data, store.SetOptions{}); err != nil {
		return fmt.Errorf("security: store token secret: %w", err)
	}
	// Re-read so that nodes racing to create the secret converge on the
	// stored one.
	if rec, err = s.st.Get(ctx, pathSecret); err != nil {
		return fmt.Errorf("security: load token secret: %w", err)
	}
	sec := recordSecret(rec)
	if sec == "" {
		return errors.New("security: token secret missing after write")
	}
	b := []byte(sec)
	s.secret.Store(&b)
	return nil
}

func recordSecret(rec *store.Record) string {
	if rec == nil {
		return ""
	}
	var v struct {
		Secret string `json:"secret"`
	}
	if json.Unmarshal(rec.Data, &v) != nil {
		return ""
	}
	return v.Secret
}

// ReloadSecret re-reads the token secret from the store (after another
// node changed it).
func (s *Service) ReloadSecret(ctx context.Context) error {
	rec, err := s.st.Get(ctx, pathSecret)
	if err != nil {
		return fmt.Errorf("security: load token secret: %w", err)
	}
	if sec := recordSecret(rec); sec != "" {
		b := []byte(sec)
		s.secret.Store(&b)
	}
	return nil
}

func (s *Service) ensureAdmin(ctx context.Context) error {
	desc, _ := json.Marshal(map[string]string{"description": adminGroupDesc})
	if _, err := s.upsertGroup(ctx, Group{Name: AdminGroup, CustomData: desc,
		Permissions: map[string]PermissionRule{"*": {Actions: []string{"*"}}}}, UpsertOptions{}, true); err != nil {
		return fmt.Errorf("security: admin group: %w", err)
	}
	admin, err := s.loadUser(ctx, AdminUser)
	if err != nil {
		return fmt.Errorf("security: admin user: %w", err)
	}
	if admin == nil {
		if _, err := s.upsertUser(ctx, User{Username: AdminUser, Password: s.cfg.AdminPassword,
			PublicKey: s.cfg.AdminPublicKey}, UpsertOptions{}, true); err != nil {
			return fmt.Errorf("security: admin user: %w", err)
		}
	}
	// The link is written even when the user existed: nodes starting at
	// once on a fresh shared store may find the user another node has just
	// created but not linked yet. Writing it is idempotent.
	if err := s.linkGroup(ctx, AdminGroup, AdminUser, nil); err != nil {
		return fmt.Errorf("security: admin link: %w", err)
	}
	if s.cfg.AllowAnonymousAccess {
		anon, err := s.loadUser(ctx, AnonymousUser)
		if err != nil {
			return fmt.Errorf("security: anonymous user: %w", err)
		}
		if anon == nil {
			if _, err := s.upsertUser(ctx, User{Username: AnonymousUser, Password: anonymousPass}, UpsertOptions{}, true); err != nil {
				return fmt.Errorf("security: anonymous user: %w", err)
			}
		}
	}
	// forget whatever was read while other nodes were still writing
	s.invalidate()
	return nil
}

// OnChange registers fn to be called after each directory change, once the
// caches are invalidated. Calls are made one at a time and in order; fn may
// call back into the service. The returned function unregisters fn.
func (s *Service) OnChange(fn func(Change)) (cancel func()) {
	s.lisMu.Lock()
	id := s.nextLis
	s.nextLis++
	s.listeners[id] = fn
	s.lisMu.Unlock()
	return func() {
		s.lisMu.Lock()
		delete(s.listeners, id)
		s.lisMu.Unlock()
	}
}

// ApplyRemoteChange handles a change made by another node sharing the
// store: the caches are invalidated (so everything is re-read from the
// store), revocations are reloaded, and OnChange listeners are notified.
func (s *Service) ApplyRemoteChange(ctx context.Context, c Change) {
	switch c.Event {
	case "token-revoked", "token-restored":
		var d struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(c.Data, &d) == nil && d.Token != "" {
			s.reloadRevocation(ctx, d.Token)
		}
	}
	s.invalidate()
	s.enqueue(c)
}

// invalidate drops every cached directory read and authorisation result.
func (s *Service) invalidate() {
	s.mu.Lock()
	if len(s.behalf) > 0 {
		// synthetic delegate sessions are re-made after a change: drop
		// their checkpoint state
		s.sessMu.Lock()
		for _, b := range s.behalf {
			delete(s.sessions, b.ID)
		}
		s.sessMu.Unlock()
	}
	clear(s.users)
	clear(s.groups)
	clear(s.permSets)
	clear(s.tables)
	clear(s.behalf)
	s.gen.Add(1)
	s.mu.Unlock()
}

// changed invalidates the caches and announces c.
func (s *Service) changed(event string, data any, users []string) {
	raw, _ := json.Marshal(data)
	s.invalidate()
	s.enqueue(Change{Event: event, Data: raw, Users: users})
}

// enqueue delivers c to the listeners after every earlier change; the
// goroutine that finds nobody delivering drains the queue.
func (s *Service) enqueue(c Change) {
	s.qMu.Lock()
	s.queue = append(s.queue, c)
	if s.delivering {
		s.qMu.Unlock()
		return
	}
	s.delivering = true
	for len(s.queue) > 0 {
		next := s.queue[0]
		s.queue = s.queue[1:]
		s.qMu.Unlock()
		s.lisMu.Lock()
		fns := make([]func(Change), 0, len(s.listeners))
		for i := 0; i < s.nextLis; i++ {
			if fn, ok := s.listeners[i]; ok {
				fns = append(fns, fn)
			}
		}
		s.lisMu.Unlock()
		for _, fn := range fns {
			fn(next)
		}
		s.qMu.Lock()
	}
	s.delivering = false
	s.qMu.Unlock()
}

func (s *Service) nowMs() int64 { return s.now().UnixMilli() }

// AdminHasDefaultPassword reports whether _ADMIN's stored password is still
// happn's default ("happn"), which anyone who knows happn can log in with.
func (s *Service) AdminHasDefaultPassword(ctx context.Context) (bool, error) {
	ue, err := s.loadUser(ctx, AdminUser)
	if err != nil || ue == nil || ue.hash == "" {
		return false, err
	}
	return VerifyPassword(DefaultAdminPassword, ue.hash)
}
