package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// authenticate resolves the bearer credential into an actor; requireRole then checks it. Both
// answer 401 for a missing, unknown or revoked credential, 403 for a known one without the role.
//
// Failures are counted per client address and per secret: past AuthLimit.Burst, every try from
// that address (or with that secret) is refused with 429 before the secret is looked at, valid
// or not (as GitHub's API does), until the bucket refills. The secrets are 256-bit random, so
// this is less against guessing than against the cost and noise of clients that keep trying.
// Each failure is audited as auth.failed, at most once per AuditEvery per address.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		secret = strings.TrimSpace(secret)
		if !ok || secret == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="facematch"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "an Authorization: Bearer credential is required")
		}
		ctx, now := c.Request().Context(), time.Now()
		addr := c.RealIP()
		addrKey, secretHash := addressKey(addr), engine.HashSecret(secret)[:12]
		if wait := max(s.failures.wait(addrKey, now), s.failures.wait("secret:"+secretHash, now)); wait > 0 {
			c.Response().Header().Set("Retry-After", retryAfterSeconds(wait))
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed authentications from this address or with this credential: retry later")
		}
		a, err := s.svc.Authenticate(ctx, secret)
		if errors.Is(err, engine.ErrUnauthenticated) {
			s.failures.fail("secret:"+secretHash, now)
			if audit, n := s.failures.fail(addrKey, now); audit {
				s.svc.AuditAuthFailure(ctx, s.requestActor(c, engine.Actor{}), engine.AuthFailure{Err: err, Address: addr,
					Route: c.Request().Method + " " + c.Path(), SecretHash: secretHash, Failures: n})
			}
		}
		if err != nil {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="facematch", error="invalid_token"`)
			return err
		}
		c.Set("actor", s.requestActor(c, a))
		return next(c)
	}
}

// requestActor is a with the request's IDs (the server's and, apart, the client's).
func (s *Server) requestActor(c echo.Context, a engine.Actor) engine.Actor {
	h := c.Response().Header()
	a.RequestID, a.ClientRequestID = h.Get(echo.HeaderXRequestID), h.Get(headerClientRequestID)
	return a
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
