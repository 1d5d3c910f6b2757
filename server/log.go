package server

import (
	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/web"
)

// Observer hears about every answered request and about the OAuth
// outcomes (the metrics). Its methods run on the request path, so they
// must be cheap.
type Observer interface {
	web.Observer
	TokenIssued()
	// ClientAuthFailed reports an invalid_client answer with the server's
	// fixed reason ("wrong secret", "unknown client", ...).
	ClientAuthFailed(reason string)
	// Introspected reports "active" or the inactive reason.
	Introspected(result string)
	// LockedOut reports a lock-out a failed authentication started, by
	// its scope (store.Lockout.Scope).
	LockedOut(scope string)
	// QuotaRefused reports a request refused because a budget was spent:
	// "issue" (an application's token quota) or "introspect" (a resource
	// server's introspection budget).
	QuotaRefused(budget string)
	// QuotaMonitored reports a request past its budget let through
	// because its application's quota is in monitor mode: "issue" or
	// "introspect".
	QuotaMonitored(budget string)
}

// observe tells obs what the request log learned. Everything comes from
// the request log, which the handlers fill anyway, so the handlers know
// nothing of metrics.
func observe(obs Observer) func(c echo.Context, l *web.RequestLog, status int) {
	return func(c echo.Context, l *web.RequestLog, status int) {
		switch l.Code() {
		case "invalid_client":
			obs.ClientAuthFailed(authFailureLabel(l.Reason()))
		case "slow_down":
			switch l.Reason() {
			case issueQuota:
				obs.QuotaRefused("issue")
			case introspectQuota:
				obs.QuotaRefused("introspect")
			}
		}
		if scope := l.Attr("lockout"); scope != "" {
			obs.LockedOut(scope)
		}
		if budget := l.Attr(quotaMonitoredAttr); budget != "" {
			obs.QuotaMonitored(budget)
		}
		switch web.Route(c) {
		case "/oauth/token":
			if l.Attr("event") == "token issued" {
				obs.TokenIssued()
			}
		case "/oauth/introspect":
			switch {
			case l.Code() != "" && status >= 500:
				obs.Introspected("error")
			case l.Code() != "":
				// The caller was refused (wrong credentials, no
				// tokens:introspect, its budget spent, a malformed
				// request): its problem, not oauthd's, and no alert's.
				obs.Introspected("refused")
			case l.Attr("active") == "true":
				obs.Introspected("active")
			case l.Attr("active") == "false":
				obs.Introspected(l.Attr("inactive_reason"))
			}
		}
	}
}
