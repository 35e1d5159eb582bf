package api

import (
	"fmt"
	"net/http"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

type createGalleryRequest struct {
	Name  string             `json:"name"`
	Kind  engine.GalleryKind `json:"kind"`
	Model string             `json:"model"`
}

func (s *Server) createGallery(c echo.Context) error {
	var req createGalleryRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	g, err := s.svc.CreateGallery(c.Request().Context(), actor(c), req.Name, req.Kind, req.Model)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, g)
}

func (s *Server) listGalleries(c echo.Context) error {
	gs, err := s.svc.Galleries(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"galleries": gs})
}

func (s *Server) getGallery(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	g, err := s.svc.Gallery(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

type updateGalleryRequest struct {
	// TargetFPIR is the share of searches of a stranger that may bring a review item.
	TargetFPIR *float64 `json:"target_fpir"`
	// Minors marks a gallery of children (judged under the minors' line).
	Minors *bool `json:"minors"`
}

func (s *Server) updateGallery(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req updateGalleryRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.TargetFPIR == nil && req.Minors == nil {
		return fmt.Errorf("%w: nothing to change: give target_fpir or minors", errBadRequest)
	}
	g, err := s.svc.SetGalleryPolicy(c.Request().Context(), actor(c), id, engine.GalleryPolicy{TargetFPIR: req.TargetFPIR, Minors: req.Minors})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (s *Server) deleteGallery(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteGallery(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type createSubjectRequest struct {
	Name        string `json:"name"`
	ExternalRef string `json:"external_ref"`
	Notes       string `json:"notes"`
}

func (s *Server) createSubject(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req createSubjectRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	sub, err := s.svc.CreateSubject(c.Request().Context(), actor(c), engine.Subject{GalleryID: id, Name: req.Name, ExternalRef: req.ExternalRef, Notes: req.Notes})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sub)
}

func (s *Server) listSubjects(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ss, err := s.svc.Subjects(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"subjects": ss})
}

func (s *Server) getSubject(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sub, err := s.svc.Subject(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

// updateSubjectRequest edits a subject: the fields present replace the stored ones (null or
// absent: unchanged; "" clears the reference or the notes).
type updateSubjectRequest struct {
	Name        *string `json:"name,omitempty"`
	ExternalRef *string `json:"external_ref,omitempty"`
	Notes       *string `json:"notes,omitempty"`
}

func (s *Server) updateSubject(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req updateSubjectRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	sub, err := s.svc.UpdateSubject(c.Request().Context(), actor(c), id, engine.SubjectChange{Name: req.Name, ExternalRef: req.ExternalRef, Notes: req.Notes})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *Server) deleteSubject(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteSubject(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
