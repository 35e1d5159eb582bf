package api

import (
	"fmt"
	"net/http"
	"strconv"

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
