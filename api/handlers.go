package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

// The handlers live by resource (galleries.go, images.go, searches.go, matches.go, jobs.go,
// tokens.go, audit.go); this file holds health, me, and the request parsing they share.

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) me(c echo.Context) error {
	a := actor(c)
	return c.JSON(http.StatusOK, map[string]any{"name": a.Name, "role": a.Role, "reviewers_required": s.svc.Reviewers()})
}

// pathID parses a positive decimal ID from the path.
func pathID(c echo.Context) (int64, error) {
	return parseID("id", c.Param("id"))
}

func parseID(name, v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%w: %s must be a positive integer, got %q", errBadRequest, name, v)
	}
	return id, nil
}

// bindJSON decodes a JSON body into v, refusing other content types, unknown fields (a field
// the server would drop, such as a misspelt "notes", is the client's mistake to hear about),
// anything after the value, and a body over the limit (413, chunked or not).
func bindJSON(c echo.Context, v any) error {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		} else if err == nil {
			err = fmt.Errorf("unexpected data after the JSON value at byte %d", dec.InputOffset())
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, mbe.Limit)
	}
	return fmt.Errorf("%w: the body is not valid JSON for this request: %v", errBadRequest, strings.TrimPrefix(err.Error(), "json: "))
}

// parseSimilarity reads a similarity: a finite number in [-1, 1] (NaN and infinities are not).
func parseSimilarity(name, v string) (float32, error) {
	x, err := strconv.ParseFloat(v, 32)
	if err != nil || !(x >= -1 && x <= 1) {
		return 0, fmt.Errorf("%w: %s must be a number in [-1, 1], got %q", errBadRequest, name, v)
	}
	return float32(x), nil
}

func splitList(s string) []string { return engine.SplitList(s) }

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

// page is a list answer: items and the cursor of the next page ("" at the end).
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func cursorParam(c echo.Context) (int64, error) {
	v := c.QueryParam("cursor")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: cursor must be a next_cursor value from a previous page, got %q", errBadRequest, v)
	}
	return n, nil
}

func limitParam(c echo.Context, max int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: limit must be an integer in [1, %d], got %q", errBadRequest, max, v)
	}
	return n, nil
}
