package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/facematch/facematch/engine"
)

// Config configures the API. Zero limits mean the defaults.
type Config struct {
	Service *engine.Service
	Logger  *slog.Logger
	// MaxBodyBytes caps a request body (default 25 MiB: the 20 MiB image limit plus form
	// overhead). The decoder's own byte and pixel limits apply to the image inside.
	MaxBodyBytes int64
	// MaxArchiveBytes caps the body of POST /v1/jobs, which may carry an archive of photos
	// (default 4 GiB). The form parser spools it to disk, not memory.
	MaxArchiveBytes int64
	// Ready reports whether the service can take work (readyz); nil means always ready.
	Ready func() error
	// Gauges adds service gauges (e.g. faces per index) to /metrics.
	Gauges func() []Gauge
	// UI, when set, serves the web interface's files under /ui/ (and / redirects there). The
	// files hold no data: the page reads everything through the API with the user's credential.
	UI http.Handler
	// AuthLimit limits failed authentications per client address and per secret (429 with
	// Retry-After past it) and how often they are audited.
	AuthLimit AuthLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed. Empty (the
	// default): the client address is the connection's remote address and the header is
	// ignored, since any client can write it. Behind a proxy, list it here: otherwise every
	// client has the proxy's address, and one client's failures throttle them all.
	TrustedProxies []netip.Prefix
}

// Server is the HTTP API. It is an http.Handler; the caller runs and shuts down the listener.
type Server struct {
	cfg      Config
	svc      *engine.Service
	log      *slog.Logger
	e        *echo.Echo
	metrics  *metrics
	failures *failureLimiter
}

// Route is one route of the API with the roles allowed on it (none: no credential needed).
type Route struct {
	Method, Path string
	Roles        []engine.Role
	handler      func(*Server, echo.Context) error
}

var (
	admin    = engine.RoleAdmin
	analyst  = engine.RoleAnalyst
	reviewer = engine.RoleReviewer
	auditor  = engine.RoleAuditor
	anyRole  = []engine.Role{admin, analyst, reviewer, auditor}
	// readers may look at galleries, photos, searches, matches and jobs. The auditor reads them
	// to check what the audit log says happened; each of its openings is audited.
	readers = []engine.Role{admin, analyst, reviewer, auditor}
)

// Routes is the whole API, in the order of the OpenAPI document. (A function, not a variable:
// the openapi handler reads the table it is in.)
func Routes() []Route { return routeTable() }

func routeTable() []Route {
	return []Route{
		{"GET", "/healthz", nil, (*Server).healthz},
		{"GET", "/readyz", nil, (*Server).readyz},
		{"GET", "/metrics", []engine.Role{admin}, (*Server).metricsHandler},
		{"GET", "/v1/openapi.json", anyRole, (*Server).openapi},
		{"GET", "/v1/me", anyRole, (*Server).me},
		{"POST", "/v1/me/rotate", anyRole, (*Server).rotateOwnToken},
		{"POST", "/v1/galleries", []engine.Role{admin}, (*Server).createGallery},
		{"GET", "/v1/galleries", readers, (*Server).listGalleries},
		{"GET", "/v1/galleries/:id", readers, (*Server).getGallery},
		{"PATCH", "/v1/galleries/:id", []engine.Role{admin}, (*Server).updateGallery},
		{"DELETE", "/v1/galleries/:id", []engine.Role{admin}, (*Server).deleteGallery},
		{"POST", "/v1/galleries/:id/cluster", []engine.Role{admin}, (*Server).clusterGallery},
		{"GET", "/v1/galleries/:id/persons", readers, (*Server).listPersons},
		{"GET", "/v1/persons/:id", readers, (*Server).getPerson},
		{"POST", "/v1/persons/:id/confirm", []engine.Role{reviewer}, (*Server).confirmPerson},
		{"POST", "/v1/persons/:id/remove-face", []engine.Role{reviewer}, (*Server).removePersonFace},
		{"POST", "/v1/persons/:id/merge", []engine.Role{reviewer}, (*Server).mergePersons},
		{"POST", "/v1/persons/:id/split", []engine.Role{reviewer}, (*Server).splitPerson},
		{"POST", "/v1/persons/:id/search", []engine.Role{analyst}, (*Server).searchPerson},
		{"GET", "/v1/persons/:id/report", readers, (*Server).personReport},
		{"POST", "/v1/galleries/:id/subjects", []engine.Role{admin, analyst}, (*Server).createSubject},
		{"GET", "/v1/galleries/:id/subjects", readers, (*Server).listSubjects},
		{"GET", "/v1/subjects/:id", readers, (*Server).getSubject},
		{"PATCH", "/v1/subjects/:id", []engine.Role{admin, analyst}, (*Server).updateSubject},
		{"DELETE", "/v1/subjects/:id", []engine.Role{admin}, (*Server).deleteSubject},
		{"POST", "/v1/galleries/:id/images", []engine.Role{admin, analyst}, (*Server).uploadImage},
		{"GET", "/v1/galleries/:id/images", readers, (*Server).listImages},
		{"GET", "/v1/images/:id", readers, (*Server).getImageBytes},
		{"GET", "/v1/images/:id/faces", readers, (*Server).getImageFaces},
		{"GET", "/v1/images/:id/reposts", readers, (*Server).reposts},
		{"DELETE", "/v1/images/:id", []engine.Role{admin}, (*Server).deleteImage},
		{"GET", "/v1/faces/:id/thumbnail", readers, (*Server).faceThumbnail},
		{"GET", "/v1/lookup", readers, (*Server).lookup},
		{"GET", "/v1/probe-faces/:id/thumbnail", readers, (*Server).probeThumbnail},
		{"POST", "/v1/searches", []engine.Role{analyst}, (*Server).createSearch},
		{"GET", "/v1/searches/:id", readers, (*Server).getSearch},
		{"GET", "/v1/searches/:id/photo", readers, (*Server).getSearchPhoto},
		{"POST", "/v1/searches/:id/review", []engine.Role{analyst}, (*Server).sendForReview},
		{"GET", "/v1/matches", readers, (*Server).listMatches},
		{"GET", "/v1/review/counts", readers, (*Server).reviewCounts},
		{"GET", "/v1/review/probes", readers, (*Server).listProbeGroups},
		{"GET", "/v1/matches/:id", readers, (*Server).getMatch},
		{"GET", "/v1/matches/:id/view", readers, (*Server).getMatchView},
		{"GET", "/v1/matches/:id/report", readers, (*Server).matchReport},
		{"POST", "/v1/matches/:id/decisions", []engine.Role{reviewer}, (*Server).decide},
		{"POST", "/v1/jobs", []engine.Role{admin}, (*Server).createJob},
		{"GET", "/v1/jobs", readers, (*Server).listJobs},
		{"GET", "/v1/jobs/:id", readers, (*Server).getJob},
		{"GET", "/v1/jobs/:id/items", readers, (*Server).listJobItems},
		{"POST", "/v1/jobs/:id/cancel", []engine.Role{admin}, (*Server).cancelJob},
		{"POST", "/v1/jobs/:id/resume", []engine.Role{admin}, (*Server).resumeJob},
		{"GET", "/v1/settings/retention", []engine.Role{admin, auditor}, (*Server).getRetention},
		{"PUT", "/v1/settings/retention", []engine.Role{admin}, (*Server).setRetention},
		{"GET", "/v1/audit", []engine.Role{auditor}, (*Server).listAudit},
		{"GET", "/v1/audit/export", []engine.Role{auditor}, (*Server).exportAudit},
		{"POST", "/v1/tokens", []engine.Role{admin}, (*Server).createToken},
		{"GET", "/v1/tokens", []engine.Role{admin}, (*Server).listTokens},
		{"DELETE", "/v1/tokens/:id", []engine.Role{admin}, (*Server).revokeToken},
		{"POST", "/v1/tokens/:id/rotate", []engine.Role{admin}, (*Server).rotateToken},
		{"PUT", "/v1/tokens/:id/galleries", []engine.Role{admin}, (*Server).scopeToken},
	}
}

// New builds the API.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("api: Service is required")
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("api: MaxBodyBytes must be >= 0, got %d", cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 25 << 20
	}
	if cfg.MaxArchiveBytes == 0 {
		cfg.MaxArchiveBytes = 4 << 30
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger.With("component", "api"), metrics: newMetrics(),
		failures: newFailureLimiter(cfg.AuthLimit)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.log)
	// echo's default reads X-Forwarded-For and X-Real-IP from anyone.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, p := range cfg.TrustedProxies {
			trust = append(trust, echo.TrustIPRange(&net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trust...)
	}
	e.Use(requestID)
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		s.log.Error("panic", "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err, "stack", string(stack))
		return err
	}}))
	e.Use(s.limitBody)
	for _, r := range Routes() {
		var mw []echo.MiddlewareFunc
		if r.Roles != nil {
			mw = append(mw, s.authenticate, s.requireRole(r.Roles...))
		}
		h := r.handler
		e.Add(r.Method, r.Path, func(c echo.Context) error { return h(s, c) }, mw...)
	}
	if cfg.UI != nil {
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/") })
		e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
		e.GET("/ui/*", echo.WrapHandler(http.StripPrefix("/ui", cfg.UI)))
	}
	s.e = e
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// requestID names each request with an ID of the server's own (X-Request-ID in the answer, in
// the logs and the audit log). A client's X-Request-ID is never the ID: one could imitate
// another request's or be a megabyte long. When short and well-formed it is kept apart (the
// audit entry's client_request_id) and echoed as X-Client-Request-ID. Every answer also says
// nosniff: nothing the API serves is for a browser to guess the type of.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		var b [12]byte
		rand.Read(b[:]) // never fails (crypto/rand)
		h.Set(echo.HeaderXRequestID, hex.EncodeToString(b[:]))
		if id := c.Request().Header.Get(echo.HeaderXRequestID); validClientRequestID(id) {
			h.Set(headerClientRequestID, id)
		}
		return next(c)
	}
}

const headerClientRequestID = "X-Client-Request-ID"

// validClientRequestID: 1 to 64 of [A-Za-z0-9._-].
func validClientRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// limitBody refuses bodies over MaxBodyBytes with 413 before they are read.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		limit := s.cfg.MaxBodyBytes
		if r.Method == http.MethodPost && c.Path() == "/v1/jobs" {
			limit = s.cfg.MaxArchiveBytes
		}
		if r.ContentLength > limit {
			return fmt.Errorf("%w: %d bytes, the limit is %d", errBodyTooLarge, r.ContentLength, limit)
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		return next(c)
	}
}

// observe logs each request (method, route, status, duration, request ID, client address,
// actor; never bodies) and counts it for /metrics.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = statusOf(err)
		}
		d := time.Since(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(c.Request().Method, route, status, d)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(c.Request().Context(), level, "request", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "route", route, "status", status, "duration_ms", float64(d.Microseconds())/1000,
			"client", c.RealIP(), "actor", actor(c).Name)
		return err
	}
}
