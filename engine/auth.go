package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnauthenticated: no credential, an unknown one, or a revoked one.
var ErrUnauthenticated = errors.New("missing, unknown or revoked credential")

// AuthError is a refused secret: ErrUnauthenticated (its message, which does not tell the
// client which), with what the service knows of it for the audit log.
type AuthError struct {
	// Credential is the credential the secret belongs to when it is a known, revoked one; its
	// ID is 0 for an unknown secret.
	Credential Token
	Reason     string // "unknown", "revoked" or "expired"
}

func (e *AuthError) Error() string {
	if e.Reason == "expired" {
		// The holder of the secret may know: it says what to do.
		return fmt.Sprintf("credential %s expired at %s: ask an admin to rotate it", e.Credential.Name,
			e.Credential.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return ErrUnauthenticated.Error()
}
func (e *AuthError) Unwrap() error { return ErrUnauthenticated }

// AuthFailure is a failed authentication as the API saw it, for the audit log.
type AuthFailure struct {
	Err     error  // Authenticate's error (an *AuthError names a revoked credential)
	Address string // the client's address
	Route   string // method and route template
	// SecretHash is a short prefix of the presented secret's SHA-256 (HashSecret), enough to
	// tell repeated tries of one secret apart and never enough to recover it.
	SecretHash string
	// Failures is the number of failures from this address that this entry stands for: the
	// API audits one address at most once a window and counts the rest.
	Failures int
}

// AuditAuthFailure records a failed authentication: as the revoked credential it used, or as
// "anonymous". The secret itself is never written.
func (s *Service) AuditAuthFailure(ctx context.Context, a Actor, f AuthFailure) {
	a.Name, a.Role = "anonymous", ""
	target, reason := "", "unknown"
	var ae *AuthError
	if errors.As(f.Err, &ae) {
		reason = ae.Reason
		if ae.Credential.ID != 0 {
			a.Name, target = ae.Credential.Name, ref("credential", ae.Credential.ID)
		}
	}
	s.auditRefusal(ctx, entry(a, "auth.failed", target, nil, fmt.Sprintf("address=%s route=%q secret_sha256=%s reason=%s",
		f.Address, f.Route, f.SecretHash, reason), fmt.Sprintf("failures=%d", f.Failures)))
}

// secretPrefix marks facematch credentials, so that a leaked one is recognisable in a log or a
// paste (and secret scanners can be taught the pattern).
const secretPrefix = "fm_"

// NewSecret returns a fresh credential secret: 256 random bits.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("service: credential: %w", err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashSecret is how a secret is stored and looked up. The secrets are random 256-bit values,
// so a fast hash is enough: there is nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DefaultCredentialLifetime is how long a credential works before it must be rotated.
const DefaultCredentialLifetime = 90 * 24 * time.Hour

// lastUsedResolution is how stale a credential's last-used time may get: recording every
// request would make every read a write.
const lastUsedResolution = time.Minute

// Authenticate returns the actor a secret belongs to, and records when the credential was last
// used.
func (s *Service) Authenticate(ctx context.Context, secret string) (Actor, error) {
	if !strings.HasPrefix(secret, secretPrefix) && len(secret) < 16 {
		return Actor{}, &AuthError{Reason: "unknown"}
	}
	t, err := s.cfg.Catalog.TokenByHash(ctx, HashSecret(secret))
	if errors.Is(err, ErrNotFound) {
		return Actor{}, &AuthError{Reason: "unknown"}
	}
	if err != nil {
		return Actor{}, err
	}
	now := time.Now()
	switch {
	case t.RevokedAt != nil:
		return Actor{}, &AuthError{Credential: t, Reason: "revoked"}
	case t.Expired(now):
		return Actor{}, &AuthError{Credential: t, Reason: "expired"}
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUsedResolution {
		if err := s.cfg.Catalog.TouchToken(ctx, t.ID, now); err != nil {
			// Not worth refusing the request over: the next one records it.
			s.log.Warn("recording a credential's last use failed", "credential", t.Name, "err", err)
		}
	}
	return Actor{Name: t.Name, User: t.User, Role: t.Role, TokenID: t.ID, Galleries: t.Galleries}, nil
}

// NewCredential is a credential to create: its name, the person it belongs to ("" means the
// name) and its role.
type NewCredential struct {
	Name string
	User string
	Role Role
	// Galleries limits an analyst or reviewer credential to these galleries (nil: all).
	Galleries []int64
	// ExpiresAt shortens the credential's life (a temporary colleague); nil means the
	// configured lifetime. It may not lie beyond that lifetime: rotation is the policy.
	ExpiresAt *time.Time
}

// minCredentialLife is the shortest life a credential may be given: less is a typo.
const minCredentialLife = time.Hour

// CreateToken creates a credential and returns it with its secret, which is shown once.
func (s *Service) CreateToken(ctx context.Context, a Actor, c NewCredential) (Token, string, error) {
	return s.createToken(ctx, a, "credential.create", c)
}

// RecoverAdmin issues a new admin credential to whoever runs `facematch admin recover` on the
// machine holding the data: the way back in when no admin credential works any more (lost,
// expired). a names the operating-system account; the audit log records it as a recovery.
func (s *Service) RecoverAdmin(ctx context.Context, a Actor, name string) (Token, string, error) {
	return s.createToken(ctx, a, "credential.recover", NewCredential{Name: name, Role: RoleAdmin})
}

func (s *Service) createToken(ctx context.Context, a Actor, action string, c NewCredential) (Token, string, error) {
	var err error
	if c.Name, err = CleanCredentialName(c.Name); err != nil {
		return Token{}, "", err
	}
	if c.User == "" {
		c.User = c.Name
	} else if c.User, err = CleanCredentialName(c.User); err != nil {
		return Token{}, "", fmt.Errorf("user: %w", err)
	}
	// Names are actors in the audit log: refuse one a reader could take for an existing one
	// (case, full-width letters). Credentials are few; reading them all is cheap.
	ts, err := s.cfg.Catalog.Tokens(ctx)
	if err != nil {
		return Token{}, "", err
	}
	for _, t := range ts {
		if NameKey(t.Name) == NameKey(c.Name) {
			return Token{}, "", fmt.Errorf("a credential named %q already exists, and %q would be taken for it: %w", t.Name, c.Name, ErrConflict)
		}
		if t.User != c.User && NameKey(t.User) == NameKey(c.User) {
			return Token{}, "", fmt.Errorf("the user %q exists, and %q would be taken for them: %w", t.User, c.User, ErrConflict)
		}
	}
	secret, err := NewSecret()
	if err != nil {
		return Token{}, "", err
	}
	if c.Galleries, err = s.checkScope(ctx, c.Role, c.Galleries); err != nil {
		return Token{}, "", err
	}
	now := time.Now()
	expires := now.Add(s.cfg.CredentialLifetime)
	if c.ExpiresAt != nil {
		switch {
		case c.ExpiresAt.Before(now.Add(minCredentialLife)):
			return Token{}, "", fmt.Errorf("expires_at %s is less than %s from now: %w", c.ExpiresAt.UTC().Format(time.RFC3339), minCredentialLife, ErrInvalid)
		case c.ExpiresAt.After(expires):
			return Token{}, "", fmt.Errorf("expires_at %s is beyond the credential lifetime (%s, until %s): %w",
				c.ExpiresAt.UTC().Format(time.RFC3339), s.cfg.CredentialLifetime, expires.UTC().Format(time.RFC3339), ErrInvalid)
		}
		expires = *c.ExpiresAt
	}
	var t Token
	err = s.audited(ctx, func(cat Catalog) (AuditEntry, error) {
		var err error
		t, err = cat.CreateToken(ctx, Token{Name: c.Name, User: c.User, Role: c.Role, Hash: HashSecret(secret), CreatedAt: now,
			CreatedBy: a.Name, ExpiresAt: &expires, Galleries: c.Galleries})
		return entry(a, action, ref("credential", t.ID), t.Galleries, "name="+t.Name+" user="+t.User+" role="+string(t.Role)+" galleries="+scopeText(t.Galleries),
			"expires="+expires.UTC().Format(time.RFC3339)), err
	})
	if err != nil {
		return t, "", err
	}
	return t, secret, nil
}

// RotateToken gives credential id a new secret and a new expiry; the old secret stops working
// at once. Admins rotate any credential, everyone else only their own.
func (s *Service) RotateToken(ctx context.Context, a Actor, id int64) (Token, string, error) {
	if a.Role != RoleAdmin && a.TokenID != id {
		return Token{}, "", fmt.Errorf("only an admin rotates another credential: %w", ErrForbidden)
	}
	secret, err := NewSecret()
	if err != nil {
		return Token{}, "", err
	}
	now := time.Now()
	var t Token
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		t, err = c.RotateToken(ctx, id, HashSecret(secret), now, now.Add(s.cfg.CredentialLifetime))
		if err != nil {
			return AuditEntry{}, err
		}
		return entry(a, "credential.rotate", ref("credential", id), nil, "name="+t.Name, "expires="+t.ExpiresAt.UTC().Format(time.RFC3339)), nil
	})
	if err != nil {
		return t, "", err
	}
	return t, secret, nil
}

// RevokeToken revokes a credential; its secret stops working at once.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id int64) (Token, error) {
	var t Token
	err := s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		t, err = c.RevokeToken(ctx, id, time.Now())
		return entry(a, "credential.revoke", ref("credential", id), nil, "name="+t.Name, ""), err
	})
	return t, err
}

// Tokens lists the credentials (never their secrets).
func (s *Service) Tokens(ctx context.Context) ([]Token, error) { return s.cfg.Catalog.Tokens(ctx) }

// BootstrapAdmin is the name of the first admin credential.
const BootstrapAdmin = "bootstrap-admin"

// Bootstrap creates the first admin credential when there is none: with secret when it is not
// empty (FACEMATCH_BOOTSTRAP_TOKEN), otherwise a generated one. It returns the secret when it
// created the credential, "" when credentials already exist.
func (s *Service) Bootstrap(ctx context.Context, secret string) (string, error) {
	ts, err := s.cfg.Catalog.Tokens(ctx)
	if err != nil || len(ts) > 0 {
		return "", err
	}
	if secret == "" {
		if secret, err = NewSecret(); err != nil {
			return "", err
		}
	} else if len(secret) < 16 {
		return "", fmt.Errorf("the bootstrap token must be at least 16 characters: %w", ErrInvalid)
	}
	expires := time.Now().Add(s.cfg.CredentialLifetime)
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		t, err := c.CreateToken(ctx, Token{Name: BootstrapAdmin, User: BootstrapAdmin, Role: RoleAdmin, Hash: HashSecret(secret),
			CreatedAt: time.Now(), CreatedBy: "bootstrap", ExpiresAt: &expires})
		return entry(Actor{Name: "bootstrap"}, "credential.create", ref("credential", t.ID), nil, "name="+t.Name+" role=admin", ""), err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}
