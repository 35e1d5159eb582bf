package api

import (
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

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
	if up.Face, err = facePick(c.FormValue("face"), c.FormValue("face_box")); err != nil {
		return err
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

// facePick reads the face a reference photo is about: "face", an index from a 409's list, or
// "face_box", "x,y,w,h" in the photo's pixels. The engine checks the rest.
func facePick(index, box string) (*engine.FacePick, error) {
	switch {
	case index == "" && box == "":
		return nil, nil
	case index != "" && box != "":
		return nil, fmt.Errorf("%w: give face or face_box, not both", errBadRequest)
	case index != "":
		i, err := strconv.Atoi(index)
		if err != nil || i < 0 {
			return nil, fmt.Errorf("%w: face must be a face's index from 0, got %q", errBadRequest, index)
		}
		return &engine.FacePick{Index: &i}, nil
	}
	parts := strings.Split(box, ",")
	var v [4]float32
	if len(parts) != 4 {
		return nil, fmt.Errorf("%w: face_box must be x,y,w,h in pixels, got %q", errBadRequest, box)
	}
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: face_box must be x,y,w,h in pixels, got %q", errBadRequest, box)
		}
		v[i] = float32(x)
	}
	return &engine.FacePick{Box: &engine.Box{X: v[0], Y: v[1], W: v[2], H: v[3]}}, nil
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

// lookup finds the stored photos whose ads carry a phone, username, URL or ad ID.
func (s *Server) lookup(c echo.Context) error {
	for _, name := range []string{"phone", "username", "site", "url", "ad_id"} {
		if len(c.QueryParam(name)) > 2048 {
			return fmt.Errorf("%w: %s is longer than 2048 bytes", errBadRequest, name)
		}
	}
	res, err := s.svc.Lookup(c.Request().Context(), actor(c), engine.LookupQuery{Phone: c.QueryParam("phone"), Username: c.QueryParam("username"),
		Site: c.QueryParam("site"), URL: c.QueryParam("url"), AdID: c.QueryParam("ad_id")})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// reposts lists the stored photos that are this one reposted, or that it reposts.
func (s *Server) reposts(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	rs, err := s.svc.Reposts(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"image_id": id, "radius": engine.RepostRadius, "reposts": rs})
}
