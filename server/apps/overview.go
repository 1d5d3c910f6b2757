package apps

import (
	"context"
	"errors"
	"time"

	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
)

// Overview is the state of the whole server over the last hours: token
// issue, the busiest applications, what the security log counted, and the
// signing keys. It reads bounded structures only (the store's hourly
// totals and top sets, the newest security events, the key ring), never
// every application.
type Overview struct {
	Hours int
	// Issued is every application's token issue per hour, oldest first.
	Issued []int64
	// Top are the busiest applications of those hours, most first, with
	// their names ("" for one deleted since).
	Top []TopApplication
	// Security counts the security log's events of those hours by kind,
	// each event weighing its aggregated count. SecurityPartial: more
	// events than are read for it (OverviewSecurityEvents) fell in them,
	// so the counts are of the newest.
	Security        map[string]int64
	SecurityPartial bool
	// Keys are the published signing keys; nil, with KeysOff, when this
	// server signs no JWTs.
	Keys    []signing.Key
	KeysOff bool
}

// TopApplication is one of the busiest applications.
type TopApplication struct {
	ClientID, Name string
	Issued         int64
}

// OverviewSecurityEvents bounds how many security events one overview
// reads (newest first): aggregated a minute per kind and source, that
// covers a day of a few steady sources, and an hour of a flood.
const OverviewSecurityEvents = 1000

// Overview reads the overview of the last hours (1 to 48), with the top
// busiest applications. Only an admin key sees it: it covers every
// owner's applications.
func (s *Service) Overview(ctx context.Context, hours, top int) (Overview, error) {
	if delegateFrom(ctx) != nil {
		return Overview{}, Forbidden("owner", "the overview covers every owner's applications: only an admin key sees it")
	}
	now := s.now()
	sum, err := s.store.IssuedOverall(ctx, hours, top, now)
	if err != nil {
		return Overview{}, err
	}
	out := Overview{Hours: len(sum.PerHour), Issued: sum.PerHour, Security: map[string]int64{}}
	for _, t := range sum.Top {
		a, err := s.store.GetApplication(ctx, t.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Overview{}, err
		}
		out.Top = append(out.Top, TopApplication{ClientID: t.ClientID, Name: a.Name, Issued: t.Issued})
	}
	since := now.Add(-time.Duration(out.Hours) * time.Hour)
	cursor, read := "", 0
	for read < OverviewSecurityEvents {
		ev, next, err := s.store.ListEvents(ctx, store.EventFilter{Log: store.LogSecurity}, cursor, min(MaxPage, OverviewSecurityEvents-read))
		if err != nil {
			return Overview{}, err
		}
		read += len(ev)
		for _, e := range ev {
			if e.Time.Before(since) {
				return out, s.overviewKeys(ctx, &out)
			}
			out.Security[e.Kind] += eventCount(e)
		}
		if next == "" {
			return out, s.overviewKeys(ctx, &out)
		}
		cursor = next
	}
	out.SecurityPartial = true
	return out, s.overviewKeys(ctx, &out)
}

func (s *Service) overviewKeys(ctx context.Context, o *Overview) error {
	keys, err := s.SigningKeys(ctx)
	if errors.Is(err, ErrNoKeyRing) {
		o.KeysOff = true
		return nil
	}
	o.Keys = keys
	return err
}

// eventCount is how many occurrences an aggregated security event stands
// for (its detail's count), at least one.
func eventCount(e store.Event) int64 {
	switch n := e.Detail["count"].(type) {
	case float64:
		return max(int64(n), 1)
	case int:
		return max(int64(n), 1)
	case int64:
		return max(n, 1)
	}
	return 1
}
