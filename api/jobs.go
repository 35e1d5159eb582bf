package api

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

var jobForm = []param{
	{"kind", "string", "ingest or reprocess", true},
	{"gallery_id", "integer", "the collection to fill (ingest) or the gallery to re-embed (reprocess)", true},
	{"purpose", "string", "why: the reason or case reference (audited)", true},
	{"source", "string", "ingest: s3://bucket/prefix, or a directory or archive under the service's --ingest-root", false},
	{"archive", "binary", "ingest: a zip, tar or tar.gz of photos, instead of source", false},
	{"meta", "binary", "ingest: metadata sidecar keyed by file name (.json or .csv)", false},
	{"cross_match", "string", "ingest: comma-separated reference gallery IDs every new face is searched in; into a collection, one review item per suggested person and subject", false},
	{"min_similarity", "number", "ingest: cross-match threshold (default: the model's medium band)", false},
	{"k", "integer", "ingest: most candidates per face, default 5", false},
	{"model", "string", "reprocess: the recognizer to move the gallery to", false},
}

// createJob takes a multipart form: files are streamed to disk by the form parser, never held
// whole in memory, and the archive is stored by the service.
func (s *Server) createJob(c echo.Context) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEMultipartForm) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, fmt.Sprintf("want multipart/form-data, got %q", ct))
	}
	form, err := c.MultipartForm()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: the limit is %d bytes", errBodyTooLarge, mbe.Limit)
		}
		return fmt.Errorf("%w: unreadable multipart body: %v", errBadRequest, err)
	}
	defer form.RemoveAll() // spooled parts hold photos: remove them now, not at exit
	req := engine.JobRequest{Kind: engine.JobKind(c.FormValue("kind")), Spec: engine.JobSpec{
		Source: c.FormValue("source"), Purpose: c.FormValue("purpose"), Model: c.FormValue("model")}}
	if req.GalleryID, err = parseID("gallery_id", c.FormValue("gallery_id")); err != nil {
		return err
	}
	for _, v := range splitList(c.FormValue("cross_match")) {
		id, err := parseID("cross_match", v)
		if err != nil {
			return err
		}
		req.Spec.CrossMatch = append(req.Spec.CrossMatch, id)
	}
	if v := c.FormValue("min_similarity"); v != "" {
		if req.Spec.MinSim, err = parseSimilarity("min_similarity", v); err != nil {
			return err
		}
	}
	if v := c.FormValue("k"); v != "" {
		if req.Spec.K, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%w: k must be an integer, got %q", errBadRequest, v)
		}
	}
	if fh := formFile(form, "meta"); fh != nil {
		switch {
		case strings.HasSuffix(strings.ToLower(fh.Filename), ".json"):
			req.Spec.MetaFormat = "json"
		case strings.HasSuffix(strings.ToLower(fh.Filename), ".csv"):
			req.Spec.MetaFormat = "csv"
		default:
			return fmt.Errorf("%w: the meta file must be named *.json or *.csv, got %q", errBadRequest, fh.Filename)
		}
		f, err := fh.Open()
		if err != nil {
			return fmt.Errorf("%w: unreadable meta part: %v", errBadRequest, err)
		}
		req.Meta, err = io.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: unreadable meta part: %v", errBadRequest, err)
		}
	}
	if fh := formFile(form, "archive"); fh != nil {
		f, err := fh.Open()
		if err != nil {
			return fmt.Errorf("%w: unreadable archive part: %v", errBadRequest, err)
		}
		defer f.Close()
		req.Archive, req.ArchiveSize = f, fh.Size
	}
	j, err := s.svc.CreateJob(c.Request().Context(), actor(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, j)
}

func formFile(form *multipart.Form, name string) *multipart.FileHeader {
	if fhs := form.File[name]; len(fhs) > 0 {
		return fhs[0]
	}
	return nil
}

func (s *Server) listJobs(c echo.Context) error {
	var f engine.JobFilter
	var err error
	if f.Cursor, err = cursorParam(c); err != nil {
		return err
	}
	if f.Limit, err = limitParam(c, 500); err != nil {
		return err
	}
	for _, st := range splitList(c.QueryParam("state")) {
		js := engine.JobState(st)
		if js != engine.JobQueued && js != engine.JobRunning && !js.Finished() {
			return fmt.Errorf("%w: state must be queued, running, cancelled, done or failed, got %q", errBadRequest, st)
		}
		f.State = append(f.State, js)
	}
	if v := c.QueryParam("gallery"); v != "" {
		if f.GalleryID, err = parseID("gallery", v); err != nil {
			return err
		}
	}
	js, err := s.svc.Jobs(c.Request().Context(), actor(c), f)
	if err != nil {
		return err
	}
	p := page[engine.JobView]{Items: js}
	if len(js) == f.Limit {
		p.NextCursor = strconv.FormatInt(js[len(js)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) getJob(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	j, err := s.svc.Job(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

// listJobItems pages by file name: the cursor is the last name of the previous page.
func (s *Server) listJobItems(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, err := limitParam(c, 1000)
	if err != nil {
		return err
	}
	items, err := s.svc.JobItems(c.Request().Context(), actor(c), id, engine.JobItemState(c.QueryParam("state")), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	p := page[engine.JobItem]{Items: items}
	if len(items) == limit {
		p.NextCursor = items[len(items)-1].Name
	}
	return c.JSON(http.StatusOK, p)
}

func (s *Server) cancelJob(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	j, err := s.svc.CancelJob(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, engine.ViewOf(j, time.Now()))
}

func (s *Server) resumeJob(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	j, err := s.svc.ResumeJob(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, engine.ViewOf(j, time.Now()))
}
