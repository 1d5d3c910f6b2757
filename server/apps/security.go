package apps

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/oauthd/oauthd/store"
)

// DefaultSecurityEvery is how often at most one security event of a kind
// is written per source.
const DefaultSecurityEvery = time.Minute

// maxSecuritySources bounds the aggregation table: past it, events of new
// sources are counted under one overflow entry per kind, so a flood from
// many addresses costs a bounded number of events per period.
const maxSecuritySources = 1000

// Security records a security event (a failed authentication, a lock-out,
// a spent quota) in the security log, aggregated: per period at most one
// event per kind and source, carrying how many happened. The source is
// the application and the caller's network for an existing application,
// and the network alone for an invented client_id: nothing a caller puts
// in a request decides how many events it causes. Networks are an IPv4
// address or an IPv6 /64. The first event of a source is written at once;
// the rest of its period is written by Flush.
func (s *Service) Security(ctx context.Context, e store.SecurityEvent) {
	key := secKey{kind: e.Kind, net: network(e.Addr), monitor: e.Monitor}
	if e.Known {
		key.client = e.ClientID
	}
	now := s.opts.Now()
	if first := s.security.note(key, e, now, s.opts.SecurityEvery); first {
		s.writeSecurity(ctx, key, e, 1, now)
	}
}

// Flush writes the counts gathered since each source's last event and
// forgets sources quiet for a period. Run calls it every SecurityEvery.
func (s *Service) Flush(ctx context.Context) {
	now := s.opts.Now()
	for _, p := range s.security.drain(now, s.opts.SecurityEvery) {
		s.writeSecurity(ctx, p.key, p.last, p.count, now)
	}
}

// Run flushes the security log's counts every SecurityEvery until ctx
// ends, and once more then.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.SecurityEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			s.Flush(ctx)
		}
	}
}

func (s *Service) writeSecurity(ctx context.Context, key secKey, e store.SecurityEvent, count int, now time.Time) {
	detail := map[string]any{"count": count, "network": key.net}
	if e.Reason != "" {
		detail["reason"] = e.Reason
	}
	if e.For > 0 {
		detail["locked_for"] = e.For.Round(time.Second).String()
	}
	if key.monitor {
		detail["monitor"] = true
	}
	if key.client == overflow {
		detail["sources"] = "many: the aggregation table was full"
	}
	actor := "anonymous"
	if key.client != "" && key.client != overflow {
		actor = "client:" + key.client
	}
	ev := store.Event{Time: now.UTC().Truncate(time.Millisecond), Kind: e.Kind, Actor: actor, ClientID: key.client, IP: e.Addr.String(), Detail: detail}
	if key.client == overflow {
		ev.ClientID, ev.IP = "", ""
	}
	if err := s.store.AppendSecurityEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.opts.Logger.Error("security log write failed", "kind", e.Kind, "error", err.Error())
	}
}

// network is the source an address is aggregated under.
func network(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

const overflow = "(overflow)"

// secKey is an aggregation source. Monitored quota events are counted
// apart from refusals, so a change of quota mode shows.
type secKey struct {
	kind, client, net string
	monitor           bool
}

type secState struct {
	key     secKey
	written time.Time // when its last event was written
	count   int       // events since then
	last    store.SecurityEvent
}

// securityLog is the aggregation table.
type securityLog struct {
	mu      sync.Mutex
	sources map[secKey]*secState
}

func newSecurityLog() *securityLog { return &securityLog{sources: map[secKey]*secState{}} }

// note counts e and reports whether it is its source's first in a period
// (to be written at once).
func (l *securityLog) note(key secKey, e store.SecurityEvent, now time.Time, every time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.sources[key]
	if !ok && len(l.sources) >= maxSecuritySources {
		key = secKey{kind: key.kind, client: overflow, net: "many", monitor: key.monitor}
		st, ok = l.sources[key]
	}
	if !ok {
		l.sources[key] = &secState{key: key, written: now}
		return true
	}
	st.count++
	st.last = e
	return false
}

type pending struct {
	key   secKey
	count int
	last  store.SecurityEvent
}

// drain returns the counts of sources whose period has ended and resets
// them; sources with nothing new for a period are forgotten.
func (l *securityLog) drain(now time.Time, every time.Duration) []pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []pending
	for k, st := range l.sources {
		if now.Sub(st.written) < every {
			continue
		}
		if st.count == 0 {
			delete(l.sources, k)
			continue
		}
		out = append(out, pending{key: k, count: st.count, last: st.last})
		st.count, st.written = 0, now
	}
	return out
}

// AdminEventKinds are the kinds of the changes authenticated actors make
// (the admin log, store.LogAdmin); SecurityEventKinds those of the
// security log (store.LogSecurity). The dashboard offers them as filters.
var (
	AdminEventKinds = []string{
		"application.created", "application.imported", "application.updated", "application.auth_changed", "application.deleted",
		"secret.reset", "secret.deleted", "tokens.revoked", "token.revoked", "api_key.created", "signing_key.rotated",
		"scope.created", "scope.updated", "scope.deleted",
		"applications.exported",
	}
	SecurityEventKinds = []string{
		"client.auth_failed", "client.locked_out", "token.quota_exceeded", "introspection.limited",
		"admin.auth_failed", "admin.locked_out", "dashboard.auth_failed", "dashboard.locked_out",
	}
)

// EventKinds lists every kind of audit event, the admin log's then the
// security log's; a test keeps docs/openapi.yaml's list equal to it.
var EventKinds = slices.Concat(AdminEventKinds, SecurityEventKinds)
