package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

func (s *Server) createSearch(c echo.Context) error {
	req, err := searchRequest(c)
	if err != nil {
		// A search refused here (not multipart, a malformed field) is audited like one the
		// engine refuses: someone tried to search.
		s.svc.AuditRefusedSearch(c.Request().Context(), actor(c), req.Data, req.Galleries, err)
		return err
	}
	res, err := s.svc.Search(c.Request().Context(), actor(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

// searchRequest reads a search's multipart form; what it read is returned with an error too.
func searchRequest(c echo.Context) (engine.SearchRequest, error) {
	data, err := imagePart(c)
	if err != nil {
		return engine.SearchRequest{}, err
	}
	req := engine.SearchRequest{Data: data, Purpose: c.FormValue("purpose")}
	if req.Source, err = sourceFromForm(c); err != nil {
		return req, err
	}
	for _, g := range splitList(c.FormValue("galleries")) {
		id, err := parseID("galleries", g)
		if err != nil {
			return req, err
		}
		req.Galleries = append(req.Galleries, id)
	}
	if v := c.FormValue("k"); v != "" {
		if req.K, err = strconv.Atoi(v); err != nil || req.K < 1 {
			return req, fmt.Errorf("%w: k must be a positive integer, got %q", errBadRequest, v)
		}
	}
	if v := c.FormValue("min_similarity"); v != "" {
		if req.MinSim, err = parseSimilarity("min_similarity", v); err != nil {
			return req, err
		}
	}
	return req, nil
}

func (s *Server) getSearch(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	res, err := s.svc.SearchRecord(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

type sendForReviewRequest struct {
	ProbeFaceID int64 `json:"probe_face_id"`
	FaceID      int64 `json:"face_id"`
}

// sendForReview makes a review item of a search's candidate below its gallery's threshold.
func (s *Server) sendForReview(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req sendForReviewRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.ProbeFaceID <= 0 || req.FaceID <= 0 {
		return fmt.Errorf("%w: probe_face_id and face_id are required positive integers", errBadRequest)
	}
	cand, created, err := s.svc.SendForReview(c.Request().Context(), actor(c), id, req.ProbeFaceID, req.FaceID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, cand)
}

func (s *Server) getSearchPhoto(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	data, mimeType, err := s.svc.SearchPhoto(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return servePhoto(c, "no-store", mimeType, fmt.Sprintf("search-%d-photo", id), data)
}
