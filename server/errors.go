package server

import (
	"fmt"
	"net/http"

	"github.com/oauthd/oauthd/server/web"
)

// The OAuth 2.0 error answers (RFC 6749 §5.2, RFC 6750 §3, RFC 7009
// §2.2.1, RFC 8707 §2). Handlers return them as *web.Error values; the kit
// writes them in one place.

func errInvalidRequest(format string, args ...any) *web.Error {
	return &web.Error{Code: "invalid_request", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// basicChallenge is the WWW-Authenticate of an invalid_client answer: RFC
// 6749 §5.2 wants the scheme the client should use named with a 401.
const basicChallenge = `Basic realm="oauthd"`

// errInvalidClient is the one answer for every client-authentication
// failure (unknown client, wrong secret, a refused assertion or
// certificate, a method the application does not use, disabled, address
// not allowed), so
// that a caller cannot tell which; reason goes to the log only.
func errInvalidClient(reason string) *web.Error {
	return &web.Error{
		Code:        "invalid_client",
		Description: "client authentication failed: check the client_id and the credential its application uses (client_secret, client_assertion or client certificate), and that the application is enabled and allows this address",
		Status:      http.StatusUnauthorized,
		Reason:      reason,
		Challenge:   basicChallenge,
	}
}

func errInvalidScope(format string, args ...any) *web.Error {
	return &web.Error{Code: "invalid_scope", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func errUnsupportedGrantType(gt string) *web.Error {
	return &web.Error{
		Code:        "unsupported_grant_type",
		Description: fmt.Sprintf("grant_type %q is not supported: oauthd issues tokens for client_credentials only", truncate(gt, 40)),
		Status:      http.StatusBadRequest,
	}
}

func errInvalidTarget(format string, args ...any) *web.Error {
	return &web.Error{Code: "invalid_target", Description: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// notFound is the description of a path no public route matches.
const notFound = "no such endpoint: see /.well-known/oauth-authorization-server"

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
