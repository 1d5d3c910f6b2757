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

// MaxEvents caps the audit stream; XADD trims it approximately (~), which
// Redis does in whole macro-nodes, cheaply.
const MaxEvents = 100_000

func (s *Store) eventsKey() string { return s.opts.Prefix + ":events" }

// AppendEvent adds e to the capped audit stream. The stream assigns the id.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) error {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return fmt.Errorf("event detail: %w", err)
	}
	return s.wrap(s.rdb.XAdd(ctx, &goredis.XAddArgs{
		Stream: s.eventsKey(),
		MaxLen: MaxEvents,
		Approx: true,
		Values: []any{
			"time", e.Time.UnixMilli(), "kind", e.Kind, "actor", e.Actor,
			"client_id", e.ClientID, "ip", e.IP, "detail", string(detail),
		},
	}).Err())
}

// ListEvents returns up to limit events, newest first, older than cursor
// ("" for the newest), matching the filter's non-empty fields, and the
// cursor of the next page ("" at the end). It reads the stream in batches,
// so a narrow filter over a long stream costs a few round trips.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, cursor string, limit int) ([]store.Event, string, error) {
	end := "+"
	if cursor != "" {
		if !validStreamID(cursor) {
			return nil, "", fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
		}
		end = "(" + cursor
	}
	var out []store.Event
	const batch = 500
	for scanned := 0; len(out) < limit && scanned < 20*batch; {
		msgs, err := s.rdb.XRevRangeN(ctx, s.eventsKey(), end, "-", batch).Result()
		if err != nil {
			return nil, "", s.wrap(err)
		}
		for _, m := range msgs {
			e := decodeEvent(m)
			end = "(" + m.ID
			if (f.ClientID == "" || e.ClientID == f.ClientID) && (f.Kind == "" || e.Kind == f.Kind) {
				out = append(out, e)
				if len(out) == limit {
					return out, m.ID, nil
				}
			}
		}
		scanned += len(msgs)
		if len(msgs) < batch {
			return out, "", nil
		}
	}
	// Scanned the bound without filling the page: hand back where to go on.
	return out, strings.TrimPrefix(end, "("), nil
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
