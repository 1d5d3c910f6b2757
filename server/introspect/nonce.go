package introspect

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// Resource-server-provided DPoP nonces (RFC 9449 §9).
//
// A nonce is the number of a time window of Config.DPoPNonceLifetime and
// an HMAC of it, under Config.DPoPNonceKey: nothing is stored, and
// replicas sharing the key issue and accept each other's nonces. The
// nonce of the current window and of the one before are accepted, so a
// nonce lives between one and two lifetimes, and every answer to a DPoP
// request carries the current one (DPoP-Nonce): a client that uses each
// answer's nonce never meets a use_dpop_nonce refusal after its first.

// DefaultDPoPNonceLifetime is the default Config.DPoPNonceLifetime.
const DefaultDPoPNonceLifetime = time.Minute

type nonces struct {
	key    []byte
	period time.Duration

	mu        sync.Mutex
	window    int64
	cur, prev string
}

func newNonces(key []byte, period time.Duration) *nonces {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
	}
	return &nonces{key: key, period: period, window: -1}
}

// current returns the nonce to hand out at now.
func (n *nonces) current(now time.Time) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance(now)
	return n.cur
}

// valid reports whether nonce is the current window's or the previous
// one's.
func (n *nonces) valid(nonce string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance(now)
	return nonce != "" && (nonce == n.cur || nonce == n.prev)
}

func (n *nonces) advance(now time.Time) {
	w := now.UnixNano() / int64(n.period)
	switch {
	case w == n.window:
		return
	case w == n.window+1:
		n.prev = n.cur
	default:
		n.prev = n.make(w - 1)
	}
	n.cur = n.make(w)
	n.window = w
}

// make is window w's nonce: base64url of w and 16 bytes of its HMAC-SHA256,
// 32 characters of RFC 9449's NQCHAR.
func (n *nonces) make(w int64) string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(w))
	mac := hmac.New(sha256.New, n.key)
	mac.Write([]byte("oauthd dpop nonce"))
	mac.Write(b[:8])
	mac.Sum(b[:8])
	return base64.RawURLEncoding.EncodeToString(b[:8+16])
}
