package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/web"
	"github.com/oauthd/oauthd/store"
)

// Limiter enforces the abuse limits every replica shares (store/redis's
// Limits). A nil Limiter limits nothing.
type Limiter interface {
	// ClientFailed counts a failed client authentication naming clientID
	// ("" for none, or one naming no application) from addr, and reports
	// whether the caller is now locked out; allowlisted says addr is in
	// the client's IP allowlist (store.Application.InAllowlist).
	ClientFailed(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (store.Lockout, error)
	// ClientLocked reports the lock-out a correct secret from addr is
	// held to: the one a wrong secret would be answered with.
	ClientLocked(ctx context.Context, clientID string, addr netip.Addr, allowlisted bool) (time.Duration, error)
	// TakeIssue and TakeIntrospect take one permit of an application's
	// token quota or a resource server's introspection budget (its own,
	// or the global one), and say what is left; a positive Wait says the
	// quota is spent, and Monitor that it is only watched.
	TakeIssue(ctx context.Context, a *store.Application) (store.Allowance, error)
	TakeIntrospect(ctx context.Context, a *store.Application) (store.Allowance, error)
}

// noLimits is the Limiter of a server configured without one.
type noLimits struct{}

func (noLimits) ClientFailed(context.Context, string, netip.Addr, bool) (store.Lockout, error) {
	return store.Lockout{}, nil
}
func (noLimits) ClientLocked(context.Context, string, netip.Addr, bool) (time.Duration, error) {
	return 0, nil
}
func (noLimits) TakeIssue(context.Context, *store.Application) (store.Allowance, error) {
	return store.Allowance{}, nil
}
func (noLimits) TakeIntrospect(context.Context, *store.Application) (store.Allowance, error) {
	return store.Allowance{}, nil
}

// errLockedOut answers a client locked out for too many failed
// authentications. slow_down is the OAuth error registry's code for "back
// off" (RFC 8628 §3.5); 429 and Retry-After say for how long. The answer
// does not say which lock-out holds: a wrong secret and the right one
// must read the same.
func errLockedOut(d time.Duration) *web.Error {
	return &web.Error{
		Code: "slow_down",
		Description: fmt.Sprintf("too many failed client authentications from this address, or naming this client from many: locked out for %ss; check the client_id and client_secret before retrying",
			web.RetryAfter(d)),
		Status:     http.StatusTooManyRequests,
		Reason:     "locked out",
		RetryAfter: d,
	}
}

// clientLocked answers a client that authenticated as app with 429 while
// a lock-out holds it from the request's address (nil when none does).
func (s *Server) clientLocked(c echo.Context, app *store.Application) error {
	if !s.limited {
		return nil
	}
	addr := web.Addr(c)
	locked, err := s.cfg.Limits.ClientLocked(c.Request().Context(), app.ClientID, addr, app.InAllowlist(addr))
	if err != nil {
		return err
	}
	if locked > 0 {
		return errLockedOut(locked)
	}
	return nil
}

// lockAddr is the address whose lock-out a request is held to: the
// client's, or none when no limits are configured (so the store skips the
// check).
func (s *Server) lockAddr(c echo.Context) netip.Addr {
	if !s.limited {
		return netip.Addr{}
	}
	return web.Addr(c)
}

// Budgets takeQuota takes from.
const (
	issueQuota      = "token.quota_exceeded"
	introspectQuota = "introspection.limited"
)

// takeQuota takes one permit of app's budget (issueQuota or
// introspectQuota, also the audit kind of a spent one), tells the caller
// what is left (rateLimitFields), and answers 429 when it is spent,
// recording it (aggregated) in the audit log. A quota in monitor mode is
// recorded the same way, marked monitor, and lets the request through.
// Redis failing to answer refuses the request (503): a limit that cannot
// be checked is not skipped.
func (s *Server) takeQuota(c echo.Context, app *store.Application, budget string) error {
	ctx := c.Request().Context()
	var a store.Allowance
	var err error
	policy := "issue"
	if budget == issueQuota {
		a, err = s.cfg.Limits.TakeIssue(ctx, app)
	} else {
		policy = "introspect"
		a, err = s.cfg.Limits.TakeIntrospect(ctx, app)
	}
	if err != nil {
		return err
	}
	rateLimitFields(c.Response().Header(), policy, a)
	if a.Wait <= 0 {
		return nil
	}
	s.security(c, store.SecurityEvent{Kind: budget, ClientID: app.ClientID, Known: true, Monitor: a.Monitor})
	if a.Monitor {
		web.LogAttrs(c, slog.String(quotaMonitoredAttr, policy))
		return nil
	}
	desc := "this application has used its token quota: cache each token and reuse it until it expires (expires_in says how long); retry after " + web.RetryAfter(a.Wait) + "s"
	if budget != issueQuota {
		desc = "this resource server has used its introspection budget: cache introspection answers for a few seconds; retry after " + web.RetryAfter(a.Wait) + "s"
	}
	return &web.Error{Code: "slow_down", Description: desc, Status: http.StatusTooManyRequests, Reason: budget, RetryAfter: a.Wait}
}

// quotaMonitoredAttr is the request log's attribute naming the budget
// ("issue" or "introspect") a request went past in monitor mode: the
// metrics count it (oauthd_quota_monitored_total).
const quotaMonitoredAttr = "quota_monitored"

// rateLimitFields sets the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers (Structured Field lists, RFC 9651)
// for the quota a answered, so a client sees its budget before it is
// spent: the policy (q permits per w seconds), and r permits left, the
// quota whole again in t seconds. r and t are the limits' estimates
// (store.Allowance). Nothing is set when no quota holds the client.
func rateLimitFields(h http.Header, policy string, a store.Allowance) {
	if a.Rate.Off() {
		return
	}
	var buf [64]byte
	b := append(append(append(buf[:0], '"'), policy...), `";q=`...)
	b = strconv.AppendInt(b, int64(a.Rate.N), 10)
	b = strconv.AppendInt(append(b, ";w="...), wholeSeconds(a.Rate.Per), 10)
	h.Set("RateLimit-Policy", string(b))
	b = append(append(append(buf[:0], '"'), policy...), `";r=`...)
	b = strconv.AppendInt(b, int64(a.Remaining), 10)
	b = strconv.AppendInt(append(b, ";t="...), wholeSeconds(a.Reset), 10)
	h.Set("RateLimit", string(b))
}

// wholeSeconds is d in whole seconds, rounded up: a client told to wait less
// than it must would be refused.
func wholeSeconds(d time.Duration) int64 { return int64((max(d, 0) + time.Second - 1) / time.Second) }
