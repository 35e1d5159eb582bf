package api

import (
	"fmt"
	"net/http"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

type createTokenRequest struct {
	Name string      `json:"name"`
	Role engine.Role `json:"role"`
	// User is the person the credential belongs to (default: its name).
	User string `json:"user,omitempty"`
	// Galleries limits an analyst or reviewer credential to these galleries (default: all).
	Galleries []int64 `json:"galleries,omitempty"`
	// ExpiresAt ends the credential sooner than the service's credential lifetime (RFC 3339 or
	// a date; at least an hour ahead, at most the lifetime).
	ExpiresAt string `json:"expires_at,omitempty"`
}

type createTokenResponse struct {
	engine.Token
	// Secret is shown once: only its hash is stored.
	Secret string `json:"secret"`
}

func (s *Server) createToken(c echo.Context) error {
	var req createTokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	nc := engine.NewCredential{Name: req.Name, User: req.User, Role: req.Role, Galleries: req.Galleries}
	if req.ExpiresAt != "" {
		t, err := parseTime(req.ExpiresAt)
		if err != nil {
			return fmt.Errorf("%w: expires_at must be RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02), got %q", errBadRequest, req.ExpiresAt)
		}
		nc.ExpiresAt = &t
	}
	t, secret, err := s.svc.CreateToken(c.Request().Context(), actor(c), nc)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, createTokenResponse{Token: t, Secret: secret})
}

type scopeRequest struct {
	// Galleries the credential may read; null for all.
	Galleries []int64 `json:"galleries"`
}

// scopeToken sets the galleries a credential may read.
func (s *Server) scopeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req scopeRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.ScopeToken(c.Request().Context(), actor(c), id, req.Galleries)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

// rotateToken gives a credential a new secret and expiry (admins: any credential).
func (s *Server) rotateToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return s.rotate(c, id)
}

// rotateOwnToken gives the caller's own credential a new secret and expiry.
func (s *Server) rotateOwnToken(c echo.Context) error { return s.rotate(c, actor(c).TokenID) }

func (s *Server) rotate(c echo.Context, id int64) error {
	t, secret, err := s.svc.RotateToken(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, createTokenResponse{Token: t, Secret: secret})
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.svc.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	t, err := s.svc.RevokeToken(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}
