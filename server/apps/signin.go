package apps

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/oauthd/oauthd/scopes"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store"
)

// ErrSignIn is the one answer to every failed Authenticate: unknown
// client, wrong secret, disabled application, missing applications scope
// or an address outside the allowlist look alike, so a guesser learns
// nothing about which part was wrong.
var ErrSignIn = errors.New("sign-in failed: check the client ID and secret, and that the application is enabled, holds the applications scope and allows this address")

// Authenticate checks a client ID and secret for delegated administration
// (the dashboard's sign-in with an application's credentials) and returns
// the Delegate that bounds what it may do. The rules are the token
// endpoint's plus one: the application must hold the applications scope,
// as an access token for the admin API must. A store outage is returned
// as is (it is not a failed sign-in); every other failure is ErrSignIn.
func (s *Service) Authenticate(ctx context.Context, clientID, secret string, ip netip.Addr) (*Delegate, error) {
	if !credential.ValidClientID(clientID) || secret == "" {
		return nil, ErrSignIn
	}
	a, err := s.store.GetApplication(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		// Compare against nothing anyway, so an unknown id takes about as
		// long as a wrong secret.
		(&store.Application{}).VerifySecret(secret, s.opts.Now())
		return nil, ErrSignIn
	}
	if err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	// Every check runs before any answer, so the time taken does not say
	// which failed.
	secretOK := a.VerifySecret(secret, s.opts.Now())
	ok := secretOK && a.Enabled && slices.Contains(a.Scopes, scopes.Admin) && a.Allows(ip)
	if !ok {
		return nil, ErrSignIn
	}
	return DelegateOf(a), nil
}

// IssuedPerHour counts the tokens the application was issued in each of
// the last hours hours (at most 48), oldest first: the dashboard's chart.
// The counts are the usage the token endpoint already buffers and writes,
// so the chart costs the hot path nothing.
func (s *Service) IssuedPerHour(ctx context.Context, id string, hours int) ([]int64, error) {
	if _, _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.IssuedPerHour(ctx, id, hours, s.opts.Now())
}

// Resume re-checks, on each request of a signed-in session, that the
// application signed in as may still administer: it exists, is enabled,
// holds the applications scope and allows ip. It returns a Delegate built
// from the application as it is now, so narrowing its scopes or lifetime
// narrows its open sessions at once. Failures are ErrSignIn.
func (s *Service) Resume(ctx context.Context, clientID string, ip netip.Addr) (*Delegate, error) {
	if !credential.ValidClientID(clientID) {
		return nil, ErrSignIn
	}
	a, err := s.store.GetApplication(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrSignIn
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if !a.Enabled || !slices.Contains(a.Scopes, scopes.Admin) || !a.Allows(ip) {
		return nil, ErrSignIn
	}
	return DelegateOf(a), nil
}
