package admin

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
)

// answers is how the admin API answers each code of the service's errors
// (apps.ErrorCode): the HTTP status and the wire error code. The codes it
// lacks (unavailable, internal) are web.WriteError's: 503, or a 500 that
// holds no detail.
var answers = map[string]struct {
	status int
	code   string
}{
	apps.CodeInvalid:   {http.StatusBadRequest, "invalid_request"},
	apps.CodeForbidden: {http.StatusForbidden, "forbidden"},
	apps.CodeConflict:  {http.StatusConflict, "conflict"},
	apps.CodeNotFound:  {http.StatusNotFound, "not_found"},
}

// writeError answers err: the service's errors through answers, in one
// place; anything else (the admin API's own web.Errors, a store outage, an
// internal error) as web.WriteError decides.
func writeError(c echo.Context, err error) error {
	return web.WriteError(c, toError(err))
}

func toError(err error) error {
	a, ok := answers[apps.ErrorCode(err)]
	if !ok {
		return err
	}
	out := &web.Error{Code: a.code, Status: a.status, Description: apps.ErrorMessage(err)}
	var e *apps.Error
	if errors.As(err, &e) {
		// The rule a refusal broke is for the log, not the caller.
		out.Field, out.Reason = e.Field, e.Rule
		if e.HoldersTotal > 0 {
			out.Detail = adminapi.ErrorDetail{Holders: e.Holders, HoldersTotal: e.HoldersTotal}
		}
	}
	return out
}
