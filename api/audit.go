package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facematch/facematch/engine"
	"github.com/labstack/echo/v4"
)

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
	switch o := c.QueryParam("order"); o {
	case "", "newest":
	case "oldest":
		f.Oldest = true
	default:
		return fmt.Errorf("%w: order must be newest (the default) or oldest, got %q", errBadRequest, o)
	}
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

// exportAudit streams a filtered range of the audit log, oldest first, as CSV or JSON, for an
// auditor to keep or hand over. Headers go with the first entry: a refusal before it is an
// ordinary problem answer; a failure after it aborts the connection, so that a cut export
// never looks complete.
func (s *Server) exportAudit(c echo.Context) error {
	var f engine.AuditFilter
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.QueryParam(name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return fmt.Errorf("%w: %s must be RFC 3339 or a date, got %q", errBadRequest, name, v)
			}
			*dst = t
		}
	}
	f.Actor, f.Action = c.QueryParam("actor"), c.QueryParam("action")
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return fmt.Errorf("%w: format must be json or csv, got %q", errBadRequest, format)
	}
	w := c.Response()
	started := false
	var cw *csv.Writer
	start := func() {
		started = true
		name := fmt.Sprintf("facematch-audit-%s.%s", time.Now().UTC().Format("20060102T150405Z"), format)
		w.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
		if format == "csv" {
			w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			cw = csv.NewWriter(w)
			cw.Write(auditColumns)
			return
		}
		w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("["))
	}
	n := 0
	err := s.svc.ExportAudit(c.Request().Context(), actor(c), f, func(e engine.AuditEntry) error {
		if !started {
			start()
		}
		n++
		if cw != nil {
			cw.Write(auditRow(e))
			cw.Flush()
			return cw.Error()
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		sep := "\n"
		if n > 1 {
			sep = ",\n"
		}
		_, err = w.Write(append([]byte(sep), b...))
		return err
	})
	if err != nil {
		if !started {
			return err
		}
		s.log.Error("audit export cut short", "request_id", w.Header().Get(echo.HeaderXRequestID), "entries", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	if cw == nil {
		w.Write([]byte("\n]\n"))
	}
	return nil
}

// auditColumns are the CSV export's columns: every field of an entry, so that the chain can be
// checked from the file.
var auditColumns = []string{"id", "at", "actor", "action", "target", "galleries", "input", "result", "request_id", "client_request_id", "prev_hash", "hash"}

func auditRow(e engine.AuditEntry) []string {
	galleries := make([]string, len(e.Galleries))
	for i, g := range e.Galleries {
		galleries[i] = strconv.FormatInt(g, 10)
	}
	row := []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Target,
		strings.Join(galleries, " "), e.Input, e.Result, e.RequestID, e.ClientRequestID, e.PrevHash, e.Hash}
	for i, v := range row {
		row[i] = defuseFormula(v)
	}
	return row
}

// defuseFormula keeps a spreadsheet from running a cell as a formula: names, notes and purposes
// come from users, and a cell starting with = + - @ (or a tab or carriage return) is a formula
// to Excel and LibreOffice. A leading apostrophe makes it text; the JSON export is untouched.
func defuseFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
