package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
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
	// token quota or a resource server's introspection budget; a positive
	// duration says how long to wait.
	TakeIssue(ctx context.Context, clientID string) (time.Duration, error)
	TakeIntrospect(ctx context.Context, clientID string) (time.Duration, error)
}

// noLimits is the Limiter of a server configured without one.
type noLimits struct{}

func (noLimits) ClientFailed(context.Context, string, netip.Addr, bool) (store.Lockout, error) {
	return store.Lockout{}, nil
}
func (noLimits) ClientLocked(context.Context, string, netip.Addr, bool) (time.Duration, error) {
	return 0, nil
}
func (noLimits) TakeIssue(context.Context, string) (time.Duration, error)      { return 0, nil }
func (noLimits) TakeIntrospect(context.Context, string) (time.Duration, error) { return 0, nil }

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

// takeQuota takes one permit of clientID's budget (issueQuota or
// introspectQuota, also the audit kind of a refusal) and answers 429 when
// it is spent, recording it (aggregated) in the audit log. Redis failing
// to answer refuses the request (503): a limit that cannot be checked is
// not skipped.
func (s *Server) takeQuota(c echo.Context, clientID, budget string) error {
	ctx := c.Request().Context()
	var wait time.Duration
	var err error
	if budget == issueQuota {
		wait, err = s.cfg.Limits.TakeIssue(ctx, clientID)
	} else {
		wait, err = s.cfg.Limits.TakeIntrospect(ctx, clientID)
	}
	if err != nil {
		return err
	}
	if wait <= 0 {
		return nil
	}
	s.security(c, store.SecurityEvent{Kind: budget, ClientID: clientID, Known: true})
	desc := "this application has used its token quota: cache each token and reuse it until it expires (expires_in says how long); retry after " + web.RetryAfter(wait) + "s"
	if budget != issueQuota {
		desc = "this resource server has used its introspection budget: cache introspection answers for a few seconds; retry after " + web.RetryAfter(wait) + "s"
	}
	return &web.Error{Code: "slow_down", Description: desc, Status: http.StatusTooManyRequests, Reason: budget, RetryAfter: wait}
}
