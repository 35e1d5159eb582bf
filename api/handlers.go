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

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

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

// imagePart reads the multipart field "image" (the rest of the form stays readable through
// c.FormValue).
func imagePart(c echo.Context) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEMultipartForm {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be multipart/form-data with the photo in the field \"image\"")
	}
	fh, err := c.FormFile("image")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, mbe.Limit)
		}
		if errors.Is(err, http.ErrMissingFile) {
			return nil, fmt.Errorf("%w: the multipart field \"image\" is missing", errBadRequest)
		}
		return nil, fmt.Errorf("%w: unreadable multipart body: %v", errBadRequest, err)
	}
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: unreadable image part: %v", errBadRequest, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%w: unreadable image part: %v", errBadRequest, err)
	}
	return data, nil
}

func (s *Server) uploadImage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	data, err := imagePart(c)
	if err != nil {
		return err
	}
	up := engine.Upload{GalleryID: id, Data: data}
	if v := c.FormValue("subject_id"); v != "" {
		sid, err := parseID("subject_id", v)
		if err != nil {
			return err
		}
		up.SubjectID = &sid
	}
	if up.Source, err = sourceFromForm(c); err != nil {
		return err
	}
	e, err := s.svc.AddImage(c.Request().Context(), actor(c), up)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if e.Duplicate {
		status = http.StatusOK
	}
	return c.JSON(status, e)
}

// sourceFromForm reads an ad photo's metadata fields.
func sourceFromForm(c echo.Context) (engine.Source, error) {
	// The service checks, bounds and normalises every field (engine.CleanSource).
	src := engine.Source{URL: c.FormValue("source_url"), Site: c.FormValue("site"), AdID: c.FormValue("ad_id"), CaseRef: c.FormValue("case_ref"),
		Usernames: splitList(c.FormValue("usernames")), Phones: splitList(c.FormValue("phones"))}
	for _, f := range []struct {
		name string
		dst  **time.Time
	}{{"posted_at", &src.PostedAt}, {"collected_at", &src.CollectedAt}} {
		v := c.FormValue(f.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			return src, fmt.Errorf("%w: %s must be RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02), got %q", errBadRequest, f.name, v)
		}
		*f.dst = &t
	}
	return src, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

func (s *Server) getImageBytes(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	img, data, err := s.svc.ImageBytes(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return servePhoto(c, "no-store", "image/"+img.Format, fmt.Sprintf("image-%d.%s", id, img.Format), data)
}

// servePhoto answers a photo or thumbnail as an attachment: a browser that opens its URL
// downloads it instead of rendering it on the API's origin (the web page fetches photos with
// its credential and shows them from blob: URLs, which the header does not touch). A type
// that is not an image's is served as opaque bytes.
func servePhoto(c echo.Context, cacheControl, mimeType, filename string, data []byte) error {
	if !strings.HasPrefix(mimeType, "image/") {
		mimeType = echo.MIMEOctetStream
	}
	h := c.Response().Header()
	h.Set("Cache-Control", cacheControl)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	return c.Blob(http.StatusOK, mimeType, data)
}

func (s *Server) listImages(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	f := engine.ImageFilter{GalleryID: id}
	if f.Cursor, err = cursorParam(c); err != nil {
		return err
	}
	if f.Limit, err = limitParam(c, 500); err != nil {
		return err
	}
	if v := c.QueryParam("subject"); v != "" {
		if f.SubjectID, err = parseID("subject", v); err != nil {
			return err
		}
	}
	imgs, err := s.svc.Images(c.Request().Context(), actor(c), f)
	if err != nil {
		return err
	}
	p := page[engine.ImageFaces]{Items: imgs}
	if len(imgs) == f.Limit {
		p.NextCursor = strconv.FormatInt(imgs[len(imgs)-1].Image.ID, 10)
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) getImageFaces(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	img, faces, err := s.svc.ImageRecord(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, engine.ImageFaces{Image: img, Faces: faces})
}

func (s *Server) deleteImage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteImage(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) faceThumbnail(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	data, err := s.svc.FaceThumbnail(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return servePhoto(c, "private, no-store", "image/jpeg", fmt.Sprintf("face-%d.jpg", id), data)
}

func (s *Server) probeThumbnail(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	data, err := s.svc.ProbeThumbnail(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return servePhoto(c, "private, no-store", "image/jpeg", fmt.Sprintf("probe-face-%d.jpg", id), data)
}

func (s *Server) createSearch(c echo.Context) error {
	data, err := imagePart(c)
	if err != nil {
		return err
	}
	req := engine.SearchRequest{Data: data, Purpose: c.FormValue("purpose")}
	if req.Source, err = sourceFromForm(c); err != nil {
		return err
	}
	for _, g := range splitList(c.FormValue("galleries")) {
		id, err := parseID("galleries", g)
		if err != nil {
			return err
		}
		req.Galleries = append(req.Galleries, id)
	}
	if v := c.FormValue("k"); v != "" {
		if req.K, err = strconv.Atoi(v); err != nil || req.K < 1 {
			return fmt.Errorf("%w: k must be a positive integer, got %q", errBadRequest, v)
		}
	}
	if v := c.FormValue("min_similarity"); v != "" {
		if req.MinSim, err = parseSimilarity("min_similarity", v); err != nil {
			return err
		}
	}
	res, err := s.svc.Search(c.Request().Context(), actor(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

func (s *Server) getSearch(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	rec, probes, err := s.svc.SearchRecord(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"search": rec, "faces": probes})
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
		if f.Order == engine.MostSimilarFirst {
			p.NextCursor = strconv.FormatFloat(float64(last.Similarity), 'g', -1, 32) + "_" + p.NextCursor
		}
	}
	return c.JSON(http.StatusOK, p)
}

// matchPage is a page of the review queue with the number of matches the filter selects.
type matchPage struct {
	Items      []engine.Match `json:"items"`
	NextCursor string         `json:"next_cursor"`
	Total      int            `json:"total"`
}

// matchFilter reads the review queue's query parameters.
func matchFilter(c echo.Context) (engine.MatchFilter, error) {
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
	f.Order = engine.MatchOrder(c.QueryParam("order"))
	if !engine.ValidOrder(f.Order) {
		return f, fmt.Errorf("%w: order must be oldest, newest or similarity, got %q", errBadRequest, f.Order)
	}
	if v := c.QueryParam("cursor"); v != "" {
		bad := fmt.Errorf("%w: cursor must be a next_cursor value from a previous page of the same order, got %q", errBadRequest, v)
		id := v
		if f.Order == engine.MostSimilarFirst {
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

type decideRequest struct {
	Decision engine.MatchStatus `json:"decision"`
	Note     string             `json:"note"`
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
	m, err := s.svc.Decide(c.Request().Context(), actor(c), id, req.Decision, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m)
}

func (s *Server) listAudit(c echo.Context) error {
	var f engine.AuditFilter
	var err error
	if f.Cursor, err = cursorParam(c); err != nil {
		return err
	}
	if f.Limit, err = limitParam(c, 1000); err != nil {
		return err
	}
	if v := c.QueryParam("since"); v != "" {
		if f.Since, err = parseTime(v); err != nil {
			return fmt.Errorf("%w: since must be RFC 3339 or a date, got %q", errBadRequest, v)
		}
	}
	f.Actor, f.Action = c.QueryParam("actor"), c.QueryParam("action")
	es, err := s.svc.AuditEntries(c.Request().Context(), actor(c), f)
	if err != nil {
		return err
	}
	p := page[engine.AuditEntry]{Items: es}
	if len(es) == f.Limit {
		p.NextCursor = strconv.FormatInt(es[len(es)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, p)
}

type createTokenRequest struct {
	Name string      `json:"name"`
	Role engine.Role `json:"role"`
	// User is the person the credential belongs to (default: its name).
	User string `json:"user,omitempty"`
	// Galleries limits an analyst or reviewer credential to these galleries (default: all).
	Galleries []int64 `json:"galleries,omitempty"`
}

type createTokenResponse struct {
	engine.Token
	// Secret is shown once: only its hash is stored.
	Secret string `json:"secret"`
}

func (s *Server) createToken(c echo.Context) error {
	var req createTokenRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, secret, err := s.svc.CreateToken(c.Request().Context(), actor(c), engine.NewCredential{Name: req.Name, User: req.User, Role: req.Role,
		Galleries: req.Galleries})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, createTokenResponse{Token: t, Secret: secret})
}

type scopeRequest struct {
	// Galleries the credential may read; null for all.
	Galleries []int64 `json:"galleries"`
}

// scopeToken sets the galleries a credential may read.
func (s *Server) scopeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var req scopeRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	t, err := s.svc.ScopeToken(c.Request().Context(), actor(c), id, req.Galleries)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

// rotateToken gives a credential a new secret and expiry (admins: any credential).
func (s *Server) rotateToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return s.rotate(c, id)
}

// rotateOwnToken gives the caller's own credential a new secret and expiry.
func (s *Server) rotateOwnToken(c echo.Context) error { return s.rotate(c, actor(c).TokenID) }

func (s *Server) rotate(c echo.Context, id int64) error {
	t, secret, err := s.svc.RotateToken(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, createTokenResponse{Token: t, Secret: secret})
}

func (s *Server) listTokens(c echo.Context) error {
	ts, err := s.svc.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	t, err := s.svc.RevokeToken(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}
