package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Nonces makes and checks server nonces (RFC 9449 §8) without state: a
// nonce is a time window's number and an HMAC of it under a key every
// replica shares, so any replica accepts what another handed out, and
// nothing is stored. A nonce is accepted in the window it was made in and
// the next one, so it lives between one and two Periods; a client that
// presents an older one is told the current one (use_dpop_nonce) and
// retries. All clients share a window's nonce: it proves a proof is
// recent, which is all §8 asks of it; the jti stays single-use anyway.
type Nonces struct {
	key    []byte
	period time.Duration
	now    func() time.Time
}

// DefaultNoncePeriod is a nonce window's length when none is set.
const DefaultNoncePeriod = 5 * time.Minute

// NewNonces makes nonces with key (32 bytes or more; cmd derives it from
// the deployment's sealing key so that every replica has the same).
func NewNonces(key []byte, period time.Duration, now func() time.Time) *Nonces {
	if period <= 0 {
		period = DefaultNoncePeriod
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: key, period: period, now: now}
}

func (n *Nonces) window() uint64 { return uint64(n.now().UnixNano() / int64(n.period)) }

func (n *Nonces) make(w uint64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], w)
	m := hmac.New(sha256.New, n.key)
	m.Write([]byte("oauthd dpop nonce\x00"))
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Current is the nonce to hand out now (the DPoP-Nonce header).
func (n *Nonces) Current() string { return n.make(n.window()) }

// Valid reports whether s is a nonce of this window or the last.
func (n *Nonces) Valid(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return false
	}
	w, now := binary.BigEndian.Uint64(b[:8]), n.window()
	if w != now && w+1 != now {
		return false
	}
	return hmac.Equal([]byte(n.make(w)), []byte(s))
}
