package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance,omitempty"` // the request ID
	// Faces lists a reference photo's faces when the uploader must say which is the subject's
	// (409); the upload is repeated with face or face_box.
	Faces []engine.FaceOption `json:"faces,omitempty"`
}

// statusOf is the one place where error kinds become HTTP statuses. It knows the engine's kinds
// and the API's own (bad request, body too large) only: the engine translates its stores' and
// the decoder's errors at its boundary.
func statusOf(err error) int {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he.Code
	case errors.Is(err, engine.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, engine.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, engine.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, engine.ErrInvalid), errors.Is(err, engine.ErrNoFace):
		return http.StatusUnprocessableEntity
	case errors.Is(err, engine.ErrTooLarge), errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, engine.ErrUnsupported):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, engine.ErrMalformed), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this answer
	case errors.Is(err, engine.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// defaultRetryAfter is the Retry-After of a 503 whose cause does not say.
const defaultRetryAfter = 2 * time.Second

var (
	errBadRequest   = errors.New("bad request")
	errBodyTooLarge = errors.New("request body too large")
)

// errorHandler answers every error as a problem document. Server-side failures are logged with
// the request ID and answered without their details, which may name internal keys.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status := statusOf(err)
		detail := err.Error()
		var he *echo.HTTPError
		if errors.As(err, &he) {
			if m, ok := he.Message.(string); ok {
				detail = m
			} else {
				detail = http.StatusText(he.Code)
			}
		}
		rid := c.Response().Header().Get(echo.HeaderXRequestID)
		switch {
		case status == http.StatusServiceUnavailable:
			// Every 503 says when to come back, so that clients back off instead of hammering.
			// Only the service's own overload messages are shown: a store's may name keys.
			secs := int(math.Ceil(engine.RetryDelay(err, defaultRetryAfter).Seconds()))
			c.Response().Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
			var ra *engine.RetryAfter
			if !errors.As(err, &ra) && he == nil {
				log.Warn("request refused: unavailable", "request_id", rid, "method", c.Request().Method, "path", c.Path(), "err", err)
				detail = "temporarily unavailable; nothing was changed, retry later"
			}
		case status >= 500:
			log.Error("request failed", "request_id", rid, "method", c.Request().Method, "path", c.Path(), "err", err)
			detail = "internal error; the request ID identifies it in the server log"
		}
		title := http.StatusText(status)
		if title == "" {
			title = "Client Closed Request"
		}
		p := Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Instance: rid}
		if choice := (*engine.FaceChoiceError)(nil); errors.As(err, &choice) {
			p.Faces = choice.Faces
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().WriteHeader(status)
		if c.Request().Method != http.MethodHead {
			_ = c.Echo().JSONSerializer.Serialize(c, p, "")
		}
	}
}
