package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// Suggested persons of collections (issue 15): clustering, reading, reviewers' actions, and
// searching a person against reference galleries.

// clusterGallery clusters a collection's faces into suggested persons, from scratch.
func (s *Server) clusterGallery(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	rep, err := s.svc.ClusterGallery(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

func (s *Server) listPersons(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := engine.PersonQuery{Order: engine.PersonOrder(c.QueryParam("order"))}
	if q.PossibleMinor, err = optionalBool(c, "possible_minor"); err != nil {
		return err
	}
	ps, err := s.svc.Persons(c.Request().Context(), actor(c), id, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"persons": ps})
}

func (s *Server) getPerson(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := s.svc.PersonByID(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// personActionRequest is a reviewer's action on a person: why (note), and the face or the
// other person it is about.
type personActionRequest struct {
	Note     string  `json:"note"`
	FaceID   int64   `json:"face_id"`
	FaceIDs  []int64 `json:"face_ids"`
	PersonID int64   `json:"person_id"`
	// Supersede confirms that a merge or split replaces an earlier, contrary judgement.
	Supersede bool `json:"supersede"`
}

func (s *Server) personAction(c echo.Context, status int, run func(id int64, req personActionRequest) (engine.Person, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req personActionRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	p, err := run(id, req)
	if err != nil {
		return err
	}
	return c.JSON(status, p)
}

func (s *Server) confirmPerson(c echo.Context) error {
	return s.personAction(c, http.StatusOK, func(id int64, req personActionRequest) (engine.Person, error) {
		return s.svc.ConfirmPerson(c.Request().Context(), actor(c), id, req.Note)
	})
}

func (s *Server) removePersonFace(c echo.Context) error {
	return s.personAction(c, http.StatusOK, func(id int64, req personActionRequest) (engine.Person, error) {
		if req.FaceID <= 0 {
			return engine.Person{}, fmt.Errorf("%w: face_id is required, a positive integer", errBadRequest)
		}
		return s.svc.RemoveFaceFromPerson(c.Request().Context(), actor(c), id, req.FaceID, req.Note)
	})
}

func (s *Server) mergePersons(c echo.Context) error {
	return s.personAction(c, http.StatusOK, func(id int64, req personActionRequest) (engine.Person, error) {
		if req.PersonID <= 0 {
			return engine.Person{}, fmt.Errorf("%w: person_id is required, a positive integer", errBadRequest)
		}
		return s.svc.MergePersons(c.Request().Context(), actor(c), id, req.PersonID, req.Note, req.Supersede)
	})
}

// splitPerson moves faces of a person into a new one; the answer is the new person.
func (s *Server) splitPerson(c echo.Context) error {
	return s.personAction(c, http.StatusCreated, func(id int64, req personActionRequest) (engine.Person, error) {
		for _, f := range req.FaceIDs {
			if f <= 0 {
				return engine.Person{}, fmt.Errorf("%w: face_ids must be positive integers, got %d", errBadRequest, f)
			}
		}
		return s.svc.SplitPerson(c.Request().Context(), actor(c), id, req.FaceIDs, req.Note, req.Supersede)
	})
}

type personSearchRequest struct {
	Galleries []int64 `json:"galleries"`
	Purpose   string  `json:"purpose"`
	K         int     `json:"k"`
}

// searchPerson searches a suggested person as a whole against reference galleries.
func (s *Server) searchPerson(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req personSearchRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	res, err := s.svc.SearchPerson(c.Request().Context(), actor(c), id, engine.PersonSearchRequest{Galleries: req.Galleries, Purpose: req.Purpose, K: req.K})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}
