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
	return s.createToken(ctx, a, "credential.create", name, role)
}

// RecoverAdmin issues a new admin credential to whoever runs `facematch admin recover` on the
// machine holding the data: the way back in when no admin credential works any more (lost,
// expired). a names the operating-system account; the audit log records it as a recovery.
func (s *Service) RecoverAdmin(ctx context.Context, a Actor, name string) (Token, string, error) {
	return s.createToken(ctx, a, "credential.recover", name, RoleAdmin)
}

func (s *Service) createToken(ctx context.Context, a Actor, action, name string, role Role) (Token, string, error) {
	secret, err := NewSecret()
	if err != nil {
		return Token{}, "", err
	}
	t, err := s.cfg.Catalog.CreateToken(ctx, Token{Name: name, Role: role, Hash: HashSecret(secret), CreatedAt: time.Now(), CreatedBy: a.Name})
	if err != nil {
		return t, "", err
	}
	s.audit(ctx, a, action, ref("credential", t.ID), nil, "name="+t.Name+" role="+string(role), "")
	return t, secret, nil
}

// RevokeToken revokes a credential; its secret stops working at once.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id int64) (Token, error) {
	t, err := s.cfg.Catalog.RevokeToken(ctx, id, time.Now())
	if err != nil {
		return t, err
	}
	s.audit(ctx, a, "credential.revoke", ref("credential", id), nil, "name="+t.Name, "")
	return t, nil
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
	t, err := s.cfg.Catalog.CreateToken(ctx, Token{Name: BootstrapAdmin, Role: RoleAdmin, Hash: HashSecret(secret), CreatedAt: time.Now(), CreatedBy: "bootstrap"})
	if err != nil {
		return "", err
	}
	s.audit(ctx, Actor{Name: "bootstrap"}, "credential.create", ref("credential", t.ID), nil, "name="+t.Name+" role=admin", "")
	return secret, nil
}
