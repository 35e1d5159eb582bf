package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// authenticate resolves the bearer credential into an actor; requireRole then checks it. Both
// answer 401 for a missing, unknown or revoked credential, 403 for a known one without the role.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="facematch"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "an Authorization: Bearer credential is required")
		}
		a, err := s.svc.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
		if err != nil {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="facematch", error="invalid_token"`)
			return err
		}
		a.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
		c.Set("actor", a)
		return next(c)
	}
}

// requireRole refuses actors without one of roles; the refusal is audited (a credential trying
// what it may not is worth an auditor's look).
func (s *Server) requireRole(roles ...engine.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a := actor(c)
			if !slices.Contains(roles, a.Role) {
				s.svc.AuditDenied(c.Request().Context(), a, c.Request().Method+" "+c.Path())
				return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("the %s role may not do this (needs %s)", a.Role, roleList(roles)))
			}
			return next(c)
		}
	}
}

func roleList(roles []engine.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

func actor(c echo.Context) engine.Actor {
	a, _ := c.Get("actor").(engine.Actor)
	return a
}
