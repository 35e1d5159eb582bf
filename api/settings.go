package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// Run-time settings an admin changes: the retention policy.

func (s *Server) getRetention(c echo.Context) error {
	p, err := s.svc.Retention(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// retentionRequest is the policy with its field required: an absent one must not mean "keep
// for ever" by accident.
type retentionRequest struct {
	SearchDays *int `json:"search_days"`
}

func (s *Server) setRetention(c echo.Context) error {
	var req retentionRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.SearchDays == nil {
		return fmt.Errorf("%w: search_days is required (0 keeps searches for ever)", errBadRequest)
	}
	p, err := s.svc.SetRetention(c.Request().Context(), actor(c), engine.RetentionPolicy{SearchDays: *req.SearchDays})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}
