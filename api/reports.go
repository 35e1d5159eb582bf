package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// Case reports (issue 15): a person's or a match's report as a JSON bundle or as one HTML file
// that needs nothing else: inline CSS, images as data: URIs, no script, no link out, printable.
// Every value in it comes from users (ad metadata, notes, names) and is escaped by html/template.

//go:embed report.html
var reportHTML string

// reportCSP is the HTML report's policy, as a header and in the file itself: it may show its
// own inline style and data: images, and load nothing.
const reportCSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"sim":   func(v float32) string { return fmt.Sprintf("%.3f", v) },
	"num":   func(v float64) string { return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".") },
	"human": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"ids": func(ids []int64) string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = fmt.Sprint(id)
		}
		return strings.Join(out, ", ")
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
}).Parse(reportHTML))

// reportView is what the template renders: the report and its look-ups.
type reportView struct {
	*engine.CaseReport
	CSP string
}

// Img is the data: URI of an embedded image, or "" when it is not embedded.
func (v reportView) Img(kind string, id int64) template.URL {
	im := v.Image(kind, id)
	if im == nil {
		return ""
	}
	return template.URL("data:" + im.MIME + ";base64," + base64.StdEncoding.EncodeToString(im.Data))
}

// Box places a face box on an embedded photo, in percent of its original size.
func (v reportView) Box(kind string, id int64, b engine.Box) template.CSS {
	im := v.Image(kind, id)
	if im == nil || im.Width == 0 || im.Height == 0 {
		return ""
	}
	pct := func(x float32, of int) float64 { return min(100, max(0, float64(x)/float64(of)*100)) }
	return template.CSS(fmt.Sprintf("left:%.2f%%;top:%.2f%%;width:%.2f%%;height:%.2f%%",
		pct(b.X, im.Width), pct(b.Y, im.Height), pct(b.W, im.Width), pct(b.H, im.Height)))
}

// GalleryName names gallery id as the report lists it.
func (v reportView) GalleryName(id int64) string {
	for _, g := range v.Galleries {
		if g.ID == id {
			return g.Name
		}
	}
	return fmt.Sprintf("gallery %d", id)
}

// FacesIn are a person's faces in photo id.
func (v reportView) FacesIn(id int64) []engine.PersonFace {
	var out []engine.PersonFace
	for _, f := range v.Person.Faces {
		if f.ImageID == id {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) personReport(c echo.Context) error {
	return s.caseReport(c, "person", s.svc.PersonReport)
}

func (s *Server) matchReport(c echo.Context) error {
	return s.caseReport(c, "match", s.svc.MatchReport)
}

// caseReport answers a case report as JSON or HTML (format, default html), an attachment
// named after the record and the report's number. The format is checked before the report is
// made: a refused request makes no report and no audit entry.
func (s *Server) caseReport(c echo.Context, kind string, build func(context.Context, engine.Actor, int64) (engine.CaseReport, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "html"
	}
	if format != "html" && format != "json" {
		return fmt.Errorf("%w: format must be html or json, got %q", errBadRequest, format)
	}
	r, err := build(c.Request().Context(), actor(c), id)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q",
		fmt.Sprintf("facematch-%s-%d-report-%d.%s", kind, id, r.ID, format)))
	if format == "json" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, append(b, '\n'))
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, reportView{CaseReport: &r, CSP: reportCSP}); err != nil {
		return fmt.Errorf("api: render report: %w", err)
	}
	h.Set("Content-Security-Policy", reportCSP)
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}
