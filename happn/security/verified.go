package security

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedTTL is how long a password that matched stays remembered.
const verifiedTTL = time.Minute

// maxVerified bounds the remembered passwords (one per user).
const maxVerified = 10000

// verifiedPasswords remembers for a short time the passwords that matched
// a user's stored hash, so that the same credentials logging in again cost
// an HMAC instead of a PBKDF2 run: the members of a secure cluster log in
// to every other member (n × (n-1) logins with the same password when n
// members start together), and every client of a restarted node logs in
// again at once.
//
// An entry holds an HMAC of the password under a key made at random for
// this process, never the password; it counts only while the user's
// stored hash is the one it was verified against (a changed password, or
// a user deleted and made again, misses); a failed verification is never
// remembered, so a wrong password always costs the full PBKDF2 run and
// the answer time of a failure tells nothing new. The lockout check comes
// before, as for any login.
type verifiedPasswords struct {
	once    sync.Once
	key     [32]byte
	mu      sync.Mutex
	entries map[string]verifiedEntry // by username
}

type verifiedEntry struct {
	hash    string // the stored hash the password matched
	mac     [sha256.Size]byte
	expires time.Time
}

func (v *verifiedPasswords) mac(password string) [sha256.Size]byte {
	v.once.Do(func() { _, _ = rand.Read(v.key[:]) })
	h := hmac.New(sha256.New, v.key[:])
	h.Write([]byte(password))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// matches reports whether password was verified against hash for
// username less than verifiedTTL ago.
func (v *verifiedPasswords) matches(username, hash, password string, now time.Time) bool {
	v.mu.Lock()
	e, ok := v.entries[username]
	v.mu.Unlock()
	if !ok || e.hash != hash || !now.Before(e.expires) {
		return false
	}
	mac := v.mac(password)
	return hmac.Equal(mac[:], e.mac[:])
}

// remember records that password matched hash for username.
func (v *verifiedPasswords) remember(username, hash, password string, now time.Time) {
	mac := v.mac(password)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil {
		v.entries = map[string]verifiedEntry{}
	}
	if _, ok := v.entries[username]; !ok && len(v.entries) >= maxVerified {
		for name, e := range v.entries {
			if !now.Before(e.expires) {
				delete(v.entries, name)
			}
		}
		if len(v.entries) >= maxVerified {
			return
		}
	}
	v.entries[username] = verifiedEntry{hash: hash, mac: mac, expires: now.Add(verifiedTTL)}
}
