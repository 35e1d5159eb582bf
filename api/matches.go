package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

func (s *Server) listMatches(c echo.Context) error {
	f, err := matchFilter(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ms, err := s.svc.Matches(ctx, actor(c), f)
	if err != nil {
		return err
	}
	total, err := s.svc.CountMatches(ctx, actor(c), f)
	if err != nil {
		return err
	}
	p := matchPage{Items: ms, Total: total}
	if len(ms) == f.Limit {
		last := ms[len(ms)-1]
		p.NextCursor = strconv.FormatInt(last.ID, 10)
		switch f.Order {
		case engine.MostSimilarFirst:
			p.NextCursor = strconv.FormatFloat(float64(last.Similarity), 'g', -1, 32) + "_" + p.NextCursor
		case engine.MinorsFirst:
			flag := "0"
			if last.PossibleMinor {
				flag = "1"
			}
			p.NextCursor = flag + "_" + strconv.FormatFloat(float64(last.Similarity), 'g', -1, 32) + "_" + p.NextCursor
		}
	}
	return c.JSON(http.StatusOK, p)
}

// listProbeGroups is the review queue grouped by probe face: the same filters as listMatches,
// a page of groups ordered by their most similar item.
func (s *Server) listProbeGroups(c echo.Context) error {
	f, err := readMatchFilter(c, true)
	if err != nil {
		return err
	}
	if f.Limit > 100 {
		return fmt.Errorf("%w: limit must be in [1, 100] for groups, got %d", errBadRequest, f.Limit)
	}
	if c.QueryParam("limit") == "" {
		f.Limit = 20
	}
	ctx := c.Request().Context()
	gs, err := s.svc.ProbeGroups(ctx, actor(c), f)
	if err != nil {
		return err
	}
	p := probeGroupPage{Groups: gs}
	if len(gs) == f.Limit {
		last := gs[len(gs)-1]
		p.NextCursor = strconv.FormatFloat(float64(last.Best), 'g', -1, 32) + "_" + strconv.FormatInt(last.ProbeFaceID, 10)
	}
	return c.JSON(http.StatusOK, p)
}

// probeGroupPage is a page of the review queue grouped by probe face.
type probeGroupPage struct {
	Groups     []engine.ProbeGroup `json:"groups"`
	NextCursor string              `json:"next_cursor"`
}

// matchPage is a page of the review queue with the number of matches the filter selects.
type matchPage struct {
	Items      []engine.Match `json:"items"`
	NextCursor string         `json:"next_cursor"`
	Total      int            `json:"total"`
}

// matchFilter reads the review queue's query parameters.
func matchFilter(c echo.Context) (engine.MatchFilter, error) { return readMatchFilter(c, false) }

// readMatchFilter reads the review queue's query parameters; grouped (by probe face) pages are
// ordered by their most similar item, and their cursor is that item's similarity and probe.
func readMatchFilter(c echo.Context, grouped bool) (engine.MatchFilter, error) {
	var f engine.MatchFilter
	var err error
	if f.Limit, err = limitParam(c, 500); err != nil {
		return f, err
	}
	for _, st := range splitList(c.QueryParam("status")) {
		ms := engine.MatchStatus(st)
		if ms != engine.Pending && ms != engine.Disputed && !engine.ValidDecision(ms) {
			return f, fmt.Errorf("%w: status must be pending, disputed, potential_candidate, no_candidate or inconclusive, got %q", errBadRequest, st)
		}
		f.Status = append(f.Status, ms)
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"gallery", &f.GalleryID}, {"search", &f.SearchID}, {"job", &f.JobID}, {"probe_face", &f.ProbeFaceID}} {
		if v := c.QueryParam(p.name); v != "" {
			if *p.dst, err = parseID(p.name, v); err != nil {
				return f, err
			}
		}
	}
	f.CaseRef = strings.TrimSpace(c.QueryParam("case"))
	for _, p := range []struct {
		name string
		dst  **float32
	}{{"min_similarity", &f.MinSim}, {"max_similarity", &f.MaxSim}} {
		if v := c.QueryParam(p.name); v != "" {
			x, err := parseSimilarity(p.name, v)
			if err != nil {
				return f, err
			}
			*p.dst = &x
		}
	}
	switch v := c.QueryParam("reviewable"); v {
	case "", "false":
	case "true":
		f.ReviewableBy = actor(c).Person()
	default:
		return f, fmt.Errorf("%w: reviewable must be true or false, got %q", errBadRequest, v)
	}
	if f.PossibleMinor, err = optionalBool(c, "possible_minor"); err != nil {
		return f, err
	}
	f.Order = engine.MatchOrder(c.QueryParam("order"))
	if !engine.ValidOrder(f.Order) {
		return f, fmt.Errorf("%w: order must be oldest, newest, similarity or minors, got %q", errBadRequest, f.Order)
	}
	if grouped {
		if f.Order != "" && f.Order != engine.MostSimilarFirst {
			return f, fmt.Errorf("%w: groups are ordered by their most similar item: order must be similarity or absent, got %q", errBadRequest, f.Order)
		}
		f.Order = engine.MostSimilarFirst
	}
	if v := c.QueryParam("cursor"); v != "" {
		bad := fmt.Errorf("%w: cursor must be a next_cursor value from a previous page of the same order, got %q", errBadRequest, v)
		id := v
		if f.Order == engine.MinorsFirst {
			flag, rest, ok := strings.Cut(v, "_")
			if !ok || (flag != "0" && flag != "1") {
				return f, bad
			}
			f.CursorMinor, v, id = flag == "1", rest, rest
		}
		if f.Order == engine.MostSimilarFirst || f.Order == engine.MinorsFirst {
			sim, rest, ok := strings.Cut(v, "_")
			x, err := parseSimilarity("cursor", sim)
			if !ok || err != nil {
				return f, bad
			}
			f.CursorSim, id = x, rest
		}
		if f.Cursor, err = strconv.ParseInt(id, 10, 64); err != nil || f.Cursor < 0 {
			return f, bad
		}
	}
	return f, nil
}

func (s *Server) getMatch(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	m, err := s.svc.Match(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) getMatchView(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := s.svc.MatchView(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type decideRequest struct {
	Decision engine.MatchStatus `json:"decision"`
	Note     string             `json:"note"`
	// CloseOthers, with a potential_candidate decision, also records no_candidate on the probe
	// face's other candidates the reviewer may decide.
	CloseOthers bool `json:"close_others"`
}

// decideResponse is the decided match and, with close_others, the other candidates closed.
type decideResponse struct {
	engine.Match
	ClosedOthers []int64 `json:"closed_others,omitempty"`
}

func (s *Server) decide(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req decideRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.CloseOthers && req.Decision != engine.PotentialCandidate {
		return fmt.Errorf("%w: close_others goes with a potential_candidate decision, got %q", errBadRequest, req.Decision)
	}
	m, err := s.svc.Decide(c.Request().Context(), actor(c), id, req.Decision, req.Note)
	if err != nil {
		return err
	}
	res := decideResponse{Match: m}
	if req.CloseOthers {
		if res.ClosedOthers, err = s.svc.CloseOtherCandidates(c.Request().Context(), actor(c), id); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, res)
}

// reviewCounts is where the review stands per gallery and per case, in the caller's galleries.
func (s *Server) reviewCounts(c echo.Context) error {
	rc, err := s.svc.ReviewCounts(c.Request().Context(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rc)
}

// optionalBool reads a query parameter that is true, false or absent (nil).
func optionalBool(c echo.Context, name string) (*bool, error) {
	switch v := c.QueryParam(name); v {
	case "":
		return nil, nil
	case "true", "false":
		b := v == "true"
		return &b, nil
	default:
		return nil, fmt.Errorf("%w: %s must be true or false, got %q", errBadRequest, name, v)
	}
}
