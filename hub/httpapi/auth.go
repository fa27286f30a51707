package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/ringhook/ringhook/raftfsm"
)

// Token prefixes: a token reads <prefix>_<id>_<secret>.
const (
	AdminTokenPrefix = "rhk"
	AgentTokenPrefix = "rha"
)

// secretBytes is the entropy of a token secret or generated alert key.
const secretBytes = 32

// newSecret returns 32 random bytes in unpadded base64url.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newToken returns a token "<prefix>_<id>_<secret>" and the hex SHA-256 of
// its secret, which is all the hub stores.
func newToken(prefix, id string) (token, hash string, err error) {
	secret, err := newSecret()
	if err != nil {
		return "", "", err
	}
	return prefix + "_" + id + "_" + secret, hashSecret(secret), nil
}

// ParseToken splits a token into its id and secret. The id is a UUID and
// has no underscore; the secret may contain one.
func ParseToken(prefix, token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, prefix+"_")
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || id == "" || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// authenticate admits a request with the bootstrap token or a stored admin
// token in "Authorization: Bearer <token>".
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "missing Authorization header; send \"Authorization: Bearer <admin token>\"")
			return
		}
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || token == "" {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "the Authorization header must read \"Bearer <admin token>\"")
			return
		}
		ok, err := s.validAdminToken(token)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "invalid or deleted admin token; use the bootstrap token or one created with POST /api/v1/tokens")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) validAdminToken(token string) (bool, error) {
	if s.cfg.BootstrapToken != "" {
		// Comparing hashes keeps the comparison constant-time even when
		// the lengths differ.
		if subtle.ConstantTimeCompare([]byte(hashSecret(token)), []byte(hashSecret(s.cfg.BootstrapToken))) == 1 {
			return true, nil
		}
	}
	id, secret, ok := ParseToken(AdminTokenPrefix, token)
	if !ok {
		return false, nil
	}
	if _, err := uuid.Parse(id); err != nil {
		return false, nil
	}
	stored, err := s.backend.FSM().GetAdminToken(id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(stored.Hash)) == 1, nil
}
