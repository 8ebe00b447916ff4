package security

import (
	"errors"

	"github.com/happner-go/happner/errs"
)

// lockedOutMessage is the refusal of a login to a locked-out account.
const lockedOutMessage = "Account locked out"

// LockedOut reports whether err refused a login because the account is
// locked out after too many failed attempts.
func LockedOut(err error) bool {
	var e *errs.Error
	return errors.As(err, &e) && e.Message == lockedOutMessage
}

// LoginAttempt is one login as [Service.OnLogin] observers see it: who
// tried, from where, and how it ended. It never carries a password or a
// token.
type LoginAttempt struct {
	// Username is the user named by the request, or for a token login
	// the token's user once it is known ("" when the token was refused).
	Username string
	// SourceIP is the client's address ("" for in-process logins).
	SourceIP string
	// Local is set for in-process connections.
	Local bool
	// SessionID is the new session's id; "" when the login failed.
	SessionID string
	// Token is set for a token login.
	Token bool
	// Err is why the login failed; nil on success.
	Err error
}

// OnLogin calls fn after every login attempt, successful or not, on the
// goroutine that made it; fn must not block. The returned function
// unregisters fn.
func (s *Service) OnLogin(fn func(LoginAttempt)) (cancel func()) {
	s.lisMu.Lock()
	if s.loginLis == nil {
		s.loginLis = map[int]func(LoginAttempt){}
	}
	id := s.nextLis
	s.nextLis++
	s.loginLis[id] = fn
	s.lisMu.Unlock()
	return func() {
		s.lisMu.Lock()
		delete(s.loginLis, id)
		s.lisMu.Unlock()
	}
}

// loginObserved tells the OnLogin observers about one attempt.
func (s *Service) loginObserved(req LoginRequest, sess *Session, err error) {
	s.lisMu.Lock()
	if len(s.loginLis) == 0 {
		s.lisMu.Unlock()
		return
	}
	fns := make([]func(LoginAttempt), 0, len(s.loginLis))
	for _, fn := range s.loginLis {
		fns = append(fns, fn)
	}
	s.lisMu.Unlock()
	a := LoginAttempt{Username: req.Username, SourceIP: req.SourceIP, Local: req.Local, Token: req.Token != "", Err: err}
	if sess != nil {
		a.Username, a.SessionID = sess.Username, sess.ID
	}
	for _, fn := range fns {
		fn(a)
	}
}
