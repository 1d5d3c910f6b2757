package admin

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// writeError answers err. The application service's errors become the
// admin API's statuses here, in one place; everything else (a store
// outage, an internal error) goes to web.WriteError, which answers 503
// or a detail-free 500.
func writeError(c echo.Context, err error) error {
	return web.WriteError(c, toError(err))
}

func toError(err error) error {
	var (
		ve *apps.ValidationError
		ce *apps.ConflictError
		fe *apps.ForbiddenError
	)
	switch {
	case errors.As(err, &ve):
		return &web.Error{Code: "invalid_request", Description: ve.Error(), Field: ve.Field, Status: http.StatusBadRequest}
	case errors.As(err, &fe):
		return &web.Error{Code: "forbidden", Description: fe.Error(), Status: http.StatusForbidden, Reason: fe.Rule}
	case errors.As(err, &ce):
		return &web.Error{Code: "conflict", Description: ce.Reason, Status: http.StatusConflict}
	case errors.Is(err, apps.ErrNoKeyRing):
		return &web.Error{Code: "not_found", Description: err.Error(), Status: http.StatusNotFound}
	case errors.Is(err, store.ErrNotFound):
		return &web.Error{Code: "not_found", Description: err.Error(), Status: http.StatusNotFound}
	case errors.Is(err, store.ErrAlreadyExists):
		return &web.Error{Code: "conflict", Description: err.Error(), Status: http.StatusConflict}
	case errors.Is(err, store.ErrConflict):
		return &web.Error{Code: "conflict", Description: "the application changed concurrently; retry", Status: http.StatusConflict}
	}
	return err
}
