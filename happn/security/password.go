package security

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// hashKeyLen and hashSaltLen are the byte lengths of happn-3's derived key
// and salt (happn-password-hash-and-salt@1.2.1).
const (
	hashKeyLen  = 64
	hashSaltLen = 64
)

// HashPassword returns the happn-3 stored form of password:
// pbkdf2$<iterations>$<hex key>$<hex salt>$sha512, PBKDF2-HMAC-SHA512 with a
// 64-byte key and a random 64-byte salt.
func HashPassword(password string, iterations int) (string, error) {
	if password == "" {
		return "", errors.New("security: no password provided")
	}
	if iterations <= 0 {
		iterations = DefaultPBKDF2Iterations
	}
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("security: salt: %w", err)
	}
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, hashKeyLen)
	if err != nil {
		return "", fmt.Errorf("security: pbkdf2: %w", err)
	}
	return "pbkdf2$" + strconv.Itoa(iterations) + "$" + hex.EncodeToString(key) + "$" + hex.EncodeToString(salt) + "$sha512", nil
}

// VerifyPassword reports whether password matches a stored happn hash. Hashes
// with four fields are happn's legacy SHA-1 form; the fifth field names the
// digest (sha512, sha256 or sha1). A malformed hash is an error.
func VerifyPassword(password, stored string) (bool, error) {
	if password == "" || stored == "" {
		return false, nil
	}
	parts := strings.Split(stored, "$")
	if len(parts) < 4 || parts[2] == "" || parts[3] == "" {
		return false, errors.New("security: hash not formatted correctly")
	}
	if parts[0] != "pbkdf2" {
		return false, errors.New("security: wrong hash algorithm")
	}
	iterations, err := strconv.Atoi(parts[1])
	if err != nil || iterations <= 0 {
		return false, errors.New("security: hash iterations not stored")
	}
	digest := "sha1"
	if len(parts) > 4 && parts[4] != "" {
		digest = parts[4]
	}
	var h func() hash.Hash
	switch digest {
	case "sha512":
		h = sha512.New
	case "sha256":
		h = sha256.New
	case "sha1":
		h = sha1.New
	default:
		return false, fmt.Errorf("security: unsupported hash digest %q", digest)
	}
	want, err := hex.DecodeString(parts[2])
	if err != nil {
		return false, fmt.Errorf("security: hash key: %w", err)
	}
	salt, err := hex.DecodeString(parts[3])
	if err != nil {
		return false, fmt.Errorf("security: hash salt: %w", err)
	}
	if len(want) == 0 {
		return false, errors.New("security: hash not formatted correctly")
	}
	got, err := pbkdf2.Key(h, password, salt, iterations, len(want))
	if err != nil {
		return false, fmt.Errorf("security: pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
