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

// Authenticate returns the actor a secret belongs to.
func (s *Service) Authenticate(ctx context.Context, secret string) (Actor, error) {
	if !strings.HasPrefix(secret, secretPrefix) && len(secret) < 16 {
		return Actor{}, ErrUnauthenticated
	}
	t, err := s.cfg.Catalog.TokenByHash(ctx, HashSecret(secret))
	if errors.Is(err, ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	}
	if err != nil {
		return Actor{}, err
	}
	if t.RevokedAt != nil {
		return Actor{}, ErrUnauthenticated
	}
	return Actor{Name: t.Name, Role: t.Role}, nil
}

// CreateToken creates a credential and returns it with its secret, which is shown once.
func (s *Service) CreateToken(ctx context.Context, a Actor, name string, role Role) (Token, string, error) {
	secret, err := NewSecret()
	if err != nil {
		return Token{}, "", err
	}
	var t Token
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		var err error
		t, err = c.CreateToken(ctx, Token{Name: name, Role: role, Hash: HashSecret(secret), CreatedAt: time.Now(), CreatedBy: a.Name})
		return entry(a, "credential.create", ref("credential", t.ID), nil, "name="+t.Name+" role="+string(role), ""), err
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
	err = s.audited(ctx, func(c Catalog) (AuditEntry, error) {
		t, err := c.CreateToken(ctx, Token{Name: BootstrapAdmin, Role: RoleAdmin, Hash: HashSecret(secret), CreatedAt: time.Now(), CreatedBy: "bootstrap"})
		return entry(Actor{Name: "bootstrap"}, "credential.create", ref("credential", t.ID), nil, "name="+t.Name+" role=admin", ""), err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}
