package redis

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// The application indexes, beside <prefix>:apps (client_ids by creation
// time), so a search or a page in any order reads a page's worth of
// entries, not every application:
//
//	<prefix>:apps:name            sorted set, score 0: "<lower-cased name>\x00<client_id>" (name order)
//	<prefix>:apps:search          sorted set, score 0: "<search key>\x00<client_id>\x00<lower-cased
//	                              name>" for each of store.SearchKeys (a prefix search is a ZRANGE
//	                              BYLEX; the name lets it sort what it found without the records)
//	<prefix>:apps:owner:<owner>   sorted set of client_ids by creation time, one per owner
//	<prefix>:apps:indexed         the index version written by RebuildAppIndexes
//
// Like <prefix>:apps they are global keys, outside every application's
// slot: on a single node or Sentinel they are written in the record's
// own transaction; on a Cluster, which cannot span slots in one, right
// after it (as the feed is). A crash between the two there can leave an
// entry behind: a page skips an application deleted since, a search also
// one that no longer matches it, and a renamed one shows, as it is now,
// where its old name sorted until RebuildAppIndexes runs again.
const appIndexVersion = "1"

func (s *Store) nameIndexKey() string          { return s.opts.Prefix + ":apps:name" }
func (s *Store) searchIndexKey() string        { return s.opts.Prefix + ":apps:search" }
func (s *Store) ownerIndexKey(o string) string { return s.opts.Prefix + ":apps:owner:" + o }
func (s *Store) indexVersionKey() string       { return s.opts.Prefix + ":apps:indexed" }
func lexMember(key, id string) string          { return key + "\x00" + id }
func createdScore(a store.Application) float64 { return float64(a.CreatedAt.UnixMilli()) }
func searchMember(key string, a store.Application) string {
	return lexMember(lexMember(key, a.ClientID), store.NameKey(a.Name))
}

// indexApp queues the index entries of a.
func (s *Store) indexApp(ctx context.Context, p goredis.Pipeliner, a store.Application) {
	p.ZAdd(ctx, s.indexKey(), goredis.Z{Score: createdScore(a), Member: a.ClientID})
	p.ZAdd(ctx, s.nameIndexKey(), goredis.Z{Member: lexMember(store.NameKey(a.Name), a.ClientID)})
	keys := store.SearchKeys(a)
	zs := make([]goredis.Z, len(keys))
	for i, k := range keys {
		zs[i] = goredis.Z{Member: searchMember(k, a)}
	}
	p.ZAdd(ctx, s.searchIndexKey(), zs...)
	if a.Owner != "" {
		p.ZAdd(ctx, s.ownerIndexKey(a.Owner), goredis.Z{Score: createdScore(a), Member: a.ClientID})
	}
}

// unindexApp queues the removal of a's index entries.
func (s *Store) unindexApp(ctx context.Context, p goredis.Pipeliner, a store.Application) {
	p.ZRem(ctx, s.indexKey(), a.ClientID)
	p.ZRem(ctx, s.nameIndexKey(), lexMember(store.NameKey(a.Name), a.ClientID))
	keys := store.SearchKeys(a)
	members := make([]any, len(keys))
	for i, k := range keys {
		members[i] = searchMember(k, a)
	}
	p.ZRem(ctx, s.searchIndexKey(), members...)
	if a.Owner != "" {
		p.ZRem(ctx, s.ownerIndexKey(a.Owner), a.ClientID)
	}
}

// reindexApp queues what an update from old to next changes in the
// indexes: nothing unless the name or the owner changed.
func (s *Store) reindexApp(ctx context.Context, p goredis.Pipeliner, old, next store.Application) bool {
	if old.Name == next.Name && old.Owner == next.Owner {
		return false
	}
	s.unindexApp(ctx, p, old)
	s.indexApp(ctx, p, next)
	return true
}

// afterIndex runs index writes that a Cluster cannot put in the record's
// transaction. A failure is returned: the record is written, but a caller
// should hear that the indexes may lag (RebuildAppIndexes mends them).
func (s *Store) afterIndex(ctx context.Context, queue func(p goredis.Pipeliner)) error {
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error { queue(p); return nil })
	return s.wrap(err)
}

// RebuildAppIndexes writes the index entries of every application when
// the indexes are not of this version (a deployment upgraded from one
// without them), and reports how many applications it indexed (0 when
// they were up to date). Writes meanwhile index themselves; adding an
// entry twice is harmless. oauthd serve calls it at start.
func (s *Store) RebuildAppIndexes(ctx context.Context) (int, error) {
	v, err := s.rdb.Get(ctx, s.indexVersionKey()).Result()
	if err == nil && v == appIndexVersion {
		return 0, nil
	}
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, s.wrap(err)
	}
	n, cursor := 0, ""
	for {
		page, next, err := s.ListApplications(ctx, cursor, 1000)
		if err != nil {
			return n, err
		}
		if err := s.afterIndex(ctx, func(p goredis.Pipeliner) {
			for _, a := range page {
				s.indexApp(ctx, p, a)
			}
		}); err != nil {
			return n, err
		}
		n += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	return n, s.wrap(s.rdb.Set(ctx, s.indexVersionKey(), appIndexVersion, 0).Err())
}

// position is where a page starts or ends in one order: the creation
// millisecond (SortCreated) or the lower-cased name (SortName), then the
// client_id.
type position struct {
	ms   int64
	name string
	id   string
}

func posOf(a store.Application, by store.AppSort) position {
	if by == store.SortName {
		return position{name: store.NameKey(a.Name), id: a.ClientID}
	}
	return position{ms: a.CreatedAt.UnixMilli(), id: a.ClientID}
}

func comparePos(a, b position) int {
	return cmp.Or(cmp.Compare(a.ms, b.ms), strings.Compare(a.name, b.name), strings.Compare(a.id, b.id))
}

// Cursors are "c<ms>:<id>" or "n<name>\x00<id>", base64url: they name
// their order, so a cursor taken in one is refused in another.
func encodeCursor(p position, by store.AppSort) string {
	s := "c" + strconv.FormatInt(p.ms, 10) + ":" + p.id
	if by == store.SortName {
		s = "n" + lexMember(p.name, p.id)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(c string, by store.AppSort) (position, error) {
	bad := fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 {
		return position{}, bad
	}
	s := string(b[1:])
	switch {
	case b[0] == 'c' && by == store.SortCreated:
		ms, id, ok := strings.Cut(s, ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil {
			return position{}, bad
		}
		return position{ms: n, id: id}, nil
	case b[0] == 'n' && by == store.SortName:
		name, id, ok := strings.Cut(s, "\x00")
		if !ok {
			return position{}, bad
		}
		return position{name: name, id: id}, nil
	}
	return position{}, bad
}

// ordered is an index walked in its order: scan returns up to n entries
// strictly after from (nil: from the start), or strictly before it,
// going backwards, with rev.
type ordered interface {
	scan(ctx context.Context, from *position, rev bool, n int) ([]position, error)
}

// byLex walks a lexicographic index of "<name>\x00<client_id>" members.
type byLex struct {
	s   *Store
	key string
}

// zrange is a ZRANGE of key between its ends lo and hi, or from bound
// on, upwards, or downwards with rev (REV takes the high bound first).
func zrange(key, lo, hi, bound string, from *position, rev bool) goredis.ZRangeArgs {
	switch {
	case from != nil && rev:
		hi = bound
	case from != nil:
		lo = bound
	}
	if rev {
		lo, hi = hi, lo
	}
	return goredis.ZRangeArgs{Key: key, Start: lo, Stop: hi, Rev: rev}
}

func (x byLex) scan(ctx context.Context, from *position, rev bool, n int) ([]position, error) {
	var bound string
	if from != nil {
		bound = "(" + lexMember(from.name, from.id)
	}
	z := zrange(x.key, "-", "+", bound, from, rev)
	z.ByLex, z.Count = true, int64(n)
	members, err := x.s.rdb.ZRangeArgs(ctx, z).Result()
	if err != nil {
		return nil, x.s.wrap(err)
	}
	out := make([]position, 0, len(members))
	for _, m := range members {
		name, id, _ := strings.Cut(m, "\x00")
		out = append(out, position{name: name, id: id})
	}
	return out, nil
}

// byScore walks a sorted set of client_ids scored by creation time; ties
// on a millisecond are in client_id order, as Redis keeps them.
type byScore struct {
	s   *Store
	key string
}

func (x byScore) scan(ctx context.Context, from *position, rev bool, n int) ([]position, error) {
	var bound string
	if from != nil {
		bound = strconv.FormatInt(from.ms, 10)
	}
	z := zrange(x.key, "-inf", "+inf", bound, from, rev)
	z.ByScore = true
	// Entries on from's millisecond are read and skipped up to from's
	// client_id; read in rounds until n are past it.
	var out []position
	for offset := int64(0); ; {
		count := int64(n) + 64
		z.Offset, z.Count = offset, count
		zs, err := x.s.rdb.ZRangeArgsWithScores(ctx, z).Result()
		if err != nil {
			return nil, x.s.wrap(err)
		}
		for _, z := range zs {
			p := position{ms: int64(z.Score)}
			p.id, _ = z.Member.(string)
			if from != nil && p.ms == from.ms && (!rev && p.id <= from.id || rev && p.id >= from.id) {
				continue
			}
			if out = append(out, p); len(out) == n {
				return out, nil
			}
		}
		if int64(len(zs)) < count {
			return out, nil
		}
		offset += count
	}
}

// SearchApplications returns a page of the applications q selects.
// Without a search term it walks the index of the order asked (creation
// time, name, or an owner's creation time): a page costs a range read of
// about its size and a read of its records. With a term, or an owner's
// applications by name, it reads what matches (at most
// store.MaxSearchMatches, from the smaller of the term's and the owner's
// index entries), then sorts and pages them here.
func (s *Store) SearchApplications(ctx context.Context, q store.AppQuery) (store.AppPage, error) {
	q.Sort = cmp.Or(q.Sort, store.SortCreated)
	if q.Sort != store.SortCreated && q.Sort != store.SortName {
		return store.AppPage{}, fmt.Errorf("%w: no order %q", store.ErrInvalid, q.Sort)
	}
	if q.Limit <= 0 {
		return store.AppPage{}, fmt.Errorf("%w: limit %d", store.ErrInvalid, q.Limit)
	}
	var from *position
	if c := cmp.Or(q.Before, q.After); c != "" {
		if q.Before != "" && q.After != "" {
			return store.AppPage{}, fmt.Errorf("%w: both before and after", store.ErrInvalid)
		}
		p, err := decodeCursor(c, q.Sort)
		if err != nil {
			return store.AppPage{}, err
		}
		from = &p
	}
	term := store.SearchTerm(q.Search)
	switch {
	case term == "" && q.Owner == "" && q.Sort == store.SortCreated:
		return s.walk(ctx, byScore{s, s.indexKey()}, q, from)
	case term == "" && q.Owner == "":
		return s.walk(ctx, byLex{s, s.nameIndexKey()}, q, from)
	case term == "" && q.Sort == store.SortCreated:
		return s.walk(ctx, byScore{s, s.ownerIndexKey(q.Owner)}, q, from)
	}
	return s.matchAndSort(ctx, term, q, from)
}

// walk pages through an index in its order.
func (s *Store) walk(ctx context.Context, idx ordered, q store.AppQuery, from *position) (store.AppPage, error) {
	forward := q.Before == ""
	// Going forward in a descending order, or back in an ascending one,
	// walks the index backwards.
	rev := q.Desc == forward
	ps, err := idx.scan(ctx, from, rev, q.Limit+1)
	if err != nil {
		return store.AppPage{}, err
	}
	more := len(ps) > q.Limit
	ps = ps[:min(len(ps), q.Limit)]
	if !forward {
		slices.Reverse(ps)
		if len(ps) == 0 {
			// Nothing before the cursor: the first page.
			q.Before = ""
			return s.walk(ctx, idx, q, nil)
		}
	}
	var page store.AppPage
	if len(ps) > 0 {
		first, last := ps[0], ps[len(ps)-1]
		// Whether the side we came from has entries: look for one.
		switch {
		case forward && more:
			page.Next = encodeCursor(last, q.Sort)
		case !forward && more:
			page.Prev = encodeCursor(first, q.Sort)
		}
		if forward && from != nil {
			if ok, err := s.anyBeyond(ctx, idx, first, !rev); err != nil {
				return store.AppPage{}, err
			} else if ok {
				page.Prev = encodeCursor(first, q.Sort)
			}
		}
		if !forward {
			if ok, err := s.anyBeyond(ctx, idx, last, !rev); err != nil {
				return store.AppPage{}, err
			} else if ok {
				page.Next = encodeCursor(last, q.Sort)
			}
		}
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.id
	}
	page.Apps, err = s.getApps(ctx, ids)
	return page, err
}

func (s *Store) anyBeyond(ctx context.Context, idx ordered, p position, rev bool) (bool, error) {
	ps, err := idx.scan(ctx, &p, rev, 1)
	return len(ps) > 0, err
}

// getApps reads records in one pipelined round trip, in ids' order,
// leaving out those deleted since their index entry was read.
func (s *Store) getApps(ctx context.Context, ids []string) ([]store.Application, error) {
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.appKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.wrap(err)
	}
	out := make([]store.Application, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		a, err := decodeApp(b)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// matchAndSort answers a query no index walks in order. It reads the
// matches from the smaller source: the term's index entries (which carry
// the name) with their creation times from the creation or owner index
// (ZMSCORE, which also drops other owners'), or the owner's entries with
// their records when there is no term or the owner has fewer entries.
// Then it sorts them, cuts the page out, and reads only the page's
// records, dropping any that no longer match (an index entry a Cluster
// had not yet moved).
func (s *Store) matchAndSort(ctx context.Context, term string, q store.AppQuery, from *position) (store.AppPage, error) {
	var termN, ownerN *goredis.IntCmd
	lo, hi := "["+term, "("+term+"\xff"
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if term != "" {
			termN = p.ZLexCount(ctx, s.searchIndexKey(), lo, hi)
		}
		if q.Owner != "" {
			ownerN = p.ZCard(ctx, s.ownerIndexKey(q.Owner))
		}
		return nil
	})
	if err != nil {
		return store.AppPage{}, s.wrap(err)
	}
	var page store.AppPage
	var found []position
	if ownerN != nil && (termN == nil || ownerN.Val() <= termN.Val()) {
		found, page.Capped, err = s.ownerMatches(ctx, term, q)
	} else {
		found, page.Capped, err = s.termMatches(ctx, lo, hi, termN.Val(), q)
	}
	if err != nil {
		return store.AppPage{}, err
	}
	order := func(a, b position) int {
		if q.Desc {
			return comparePos(b, a)
		}
		return comparePos(a, b)
	}
	slices.SortFunc(found, order)
	// start..end is the page: after from going forward, or the Limit
	// before it going back.
	start, end := 0, min(len(found), q.Limit)
	if from != nil {
		at, exact := slices.BinarySearchFunc(found, *from, order)
		if q.Before != "" {
			start, end = max(0, at-q.Limit), at
			if start == end {
				start, end = 0, min(len(found), q.Limit)
			}
		} else {
			if exact {
				at++
			}
			start, end = at, min(len(found), at+q.Limit)
		}
	}
	if start > 0 && start < len(found) {
		page.Prev = encodeCursor(found[start], q.Sort)
	}
	if end < len(found) && end > 0 {
		page.Next = encodeCursor(found[end-1], q.Sort)
	}
	ids := make([]string, 0, end-start)
	for _, p := range found[start:end] {
		ids = append(ids, p.id)
	}
	apps, err := s.getApps(ctx, ids)
	page.Apps = slices.DeleteFunc(apps, func(a store.Application) bool {
		return !store.MatchesSearch(a, term) || q.Owner != "" && a.Owner != q.Owner
	})
	return page, err
}

// termMatches reads up to store.MaxSearchMatches applications from the
// search index entries between lo and hi (n of them), as positions in
// q's order.
func (s *Store) termMatches(ctx context.Context, lo, hi string, n int64, q store.AppQuery) ([]position, bool, error) {
	// A name may hold a term at several word starts: read twice the
	// bound of entries for the bound of applications.
	members, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.searchIndexKey(), Start: lo, Stop: hi, ByLex: true, Count: 2 * store.MaxSearchMatches}).Result()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	found := make([]position, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		_, rest, _ := strings.Cut(m, "\x00")
		id, name, _ := strings.Cut(rest, "\x00")
		if !seen[id] {
			seen[id] = true
			found = append(found, position{name: name, id: id})
		}
	}
	capped := len(found) > store.MaxSearchMatches || n > int64(len(members))
	found = found[:min(len(found), store.MaxSearchMatches)]
	if q.Sort == store.SortName && q.Owner == "" || len(found) == 0 {
		return found, capped, nil
	}
	// Creation times, from the owner's index when there is an owner: an
	// application of another owner has none there.
	key := s.indexKey()
	if q.Owner != "" {
		key = s.ownerIndexKey(q.Owner)
	}
	ids := make([]string, len(found))
	for i, p := range found {
		ids[i] = p.id
	}
	scores, err := s.rdb.ZMScore(ctx, key, ids...).Result()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	kept := found[:0]
	for i, p := range found {
		if scores[i] == 0 { // go-redis's nil: no creation time before 1970
			continue // not the owner's, or deleted
		}
		if q.Sort == store.SortCreated {
			p = position{ms: int64(scores[i]), id: p.id}
		}
		kept = append(kept, p)
	}
	return kept, capped, nil
}

// ownerMatches reads up to store.MaxSearchMatches of an owner's
// applications, and, to sort them by name or match a term, their records.
func (s *Store) ownerMatches(ctx context.Context, term string, q store.AppQuery) ([]position, bool, error) {
	ids, err := s.rdb.ZRange(ctx, s.ownerIndexKey(q.Owner), 0, store.MaxSearchMatches).Result()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	capped := len(ids) > store.MaxSearchMatches
	ids = ids[:min(len(ids), store.MaxSearchMatches)]
	var found []position
	for chunk := range slices.Chunk(ids, 500) {
		apps, err := s.getApps(ctx, chunk)
		if err != nil {
			return nil, false, err
		}
		for _, a := range apps {
			if store.MatchesSearch(a, term) && a.Owner == q.Owner {
				found = append(found, posOf(a, q.Sort))
			}
		}
	}
	return found, capped, nil
}
