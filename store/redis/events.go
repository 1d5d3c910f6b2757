package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// The audit log is two capped streams. Changes made by authenticated
// actors (admin keys, delegated administrators, the CLI) go to one; what
// unauthenticated or misbehaving callers cause (failed authentications,
// lock-outs, spent quotas) goes to the other, capped apart, so no flood
// of the second kind can push a change out of the first, and listed apart,
// so none can push one off a page. XADD trims approximately (~), which
// Redis does in whole macro-nodes, cheaply.

// Default caps of the two streams (Options.MaxEvents, MaxSecurityEvents).
const (
	DefaultMaxEvents         = 100_000
	DefaultMaxSecurityEvents = 20_000
)

func (s *Store) eventsKey() string         { return s.opts.Prefix + ":events" }
func (s *Store) securityEventsKey() string { return s.opts.Prefix + ":events:security" }

// AppendEvent adds e, a change an authenticated actor made, to the audit
// stream. The stream assigns the id.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	return s.appendEvent(ctx, s.eventsKey(), s.opts.MaxEvents, e)
}

// AppendSecurityEvent adds e to the security stream.
func (s *Store) AppendSecurityEvent(ctx context.Context, e store.Event) error {
	return s.appendEvent(ctx, s.securityEventsKey(), s.opts.MaxSecurityEvents, e)
}

func (s *Store) appendEvent(ctx context.Context, stream string, maxLen int64, e store.Event) error {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return fmt.Errorf("event detail: %w", err)
	}
	return s.wrap(s.rdb.XAdd(ctx, &goredis.XAddArgs{
		Stream: stream,
		MaxLen: maxLen,
		Approx: true,
		Values: []any{
			"time", e.Time.UnixMilli(), "kind", e.Kind, "actor", e.Actor,
			"client_id", e.ClientID, "ip", e.IP, "detail", string(detail),
		},
	}).Err())
}

// ListEvents returns up to limit events of the filter's log, newest
// first, older than cursor ("" for the newest), matching the filter's
// other non-empty fields, and the cursor of the next page ("" at the end).
// It reads the stream in batches, so a narrow filter over a long log costs
// a few round trips, and at most maxScanned events for one page.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, cursor string, limit int) ([]store.Event, string, error) {
	if cursor != "" && !validStreamID(cursor) {
		return nil, "", fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
	}
	r := &eventReader{s: s, end: cursor}
	switch f.Log {
	case "", store.LogAdmin:
		r.key = s.eventsKey()
	case store.LogSecurity:
		r.key = s.securityEventsKey()
	default:
		return nil, "", fmt.Errorf("%w: no log %q", store.ErrInvalid, f.Log)
	}
	var out []store.Event
	const maxScanned = 20 * eventBatch
	for scanned := 0; scanned < maxScanned; scanned++ {
		m, err := r.next(ctx)
		if err != nil {
			return nil, "", err
		}
		if m == nil {
			return out, "", nil
		}
		e := decodeEvent(*m)
		if (f.ClientID == "" || e.ClientID == f.ClientID) && (f.Kind == "" || e.Kind == f.Kind) {
			out = append(out, e)
		}
		if len(out) == limit {
			return out, m.ID, nil
		}
		cursor = m.ID
	}
	// Scanned the bound without filling the page: hand back where to go on.
	return out, cursor, nil
}

const eventBatch = 500

// eventReader pages backwards through one stream.
type eventReader struct {
	s    *Store
	key  string
	end  string // exclusive upper bound; "" for the newest
	buf  []goredis.XMessage
	done bool
}

// next takes the stream's next (older) event, nil at the stream's start.
func (r *eventReader) next(ctx context.Context) (*goredis.XMessage, error) {
	if len(r.buf) == 0 && !r.done {
		end := "+"
		if r.end != "" {
			end = "(" + r.end
		}
		msgs, err := r.s.rdb.XRevRangeN(ctx, r.key, end, "-", eventBatch).Result()
		if err != nil {
			return nil, r.s.wrap(err)
		}
		r.buf, r.done = msgs, len(msgs) < eventBatch
		if len(msgs) > 0 {
			r.end = msgs[len(msgs)-1].ID
		}
	}
	if len(r.buf) == 0 {
		return nil, nil
	}
	m := &r.buf[0]
	r.buf = r.buf[1:]
	return m, nil
}

// validStreamID accepts what Redis takes as an exclusive end: two uint64s
// (a longer number is an error there, not an empty page), and not 0-0,
// the smallest id, which nothing precedes.
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	m, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return err == nil && (m != 0 || n != 0)
}

func decodeEvent(m goredis.XMessage) store.Event {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := store.Event{ID: m.ID, Kind: str("kind"), Actor: str("actor"), ClientID: str("client_id"), IP: str("ip")}
	var ms int64
	fmt.Sscan(str("time"), &ms)
	e.Time = fromMS(ms)
	_ = json.Unmarshal([]byte(str("detail")), &e.Detail)
	return e
}
