package credential

import (
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store"
)

func TestParseToken(t *testing.T) {
	for _, bucket := range []int64{1_763_900_000, 60, store.NeverBucket(0), store.NeverBucket(7)} {
		raw, ref := NewToken("abc", bucket)
		got, ok := Parse(raw)
		if !ok || got != ref || got.Bucket != bucket {
			t.Fatalf("Parse(NewToken(bucket %d)) = %v %v", bucket, got, ok)
		}
		if key, kref := NewAPIKey("abc", bucket); !strings.HasPrefix(key, APIKeyPrefix) {
			t.Fatalf("API key %q", key)
		} else if got, ok := Parse(key); !ok || got != kref {
			t.Fatalf("Parse(newAPIKey) = %v %v", got, ok)
		}
	}
	r := strings.Repeat("a", randomLen)
	raw, _ := NewToken("abc", 60)
	if n := len(raw) - len("oat_abc_1o_"); n != randomLen {
		t.Fatalf("NewToken's random part is %d characters, want %d", n, randomLen)
	}
	for _, bad := range []string{
		"", "oat_", "oat_abc", "oat_abc_", "oat__1o_" + r,
		"oat_abc_" + r, // no bucket (the format before buckets)
		"oat_abc_1o_" + strings.Repeat("a", oldRandomLen-1),
		"oat_abc_1o_" + strings.Repeat("a", randomLen+1),
		"oat_ab{c}_1o_" + r,
		"oat_abc_1o_" + strings.Repeat("a", randomLen-1) + "=",
		"oat_abc_0_" + r,   // no expiry bucket 0
		"oat_abc_01o_" + r, // not canonical
		"oat_abc_1O_" + r,  // upper case
		"oat_abc_n_" + r,
		"oat_abc_-5_" + r,
		"oat_abc_" + strings.Repeat("z", 13) + "_" + r,
		"xyz_abc_1o_" + r,
		strings.Replace(raw, "oat_", "OAT_", 1),
	} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// The digest of a token names its record wherever it is filed: it covers
// the prefix, the client_id and the random part, not the bucket, so the
// token can be put together once the script has chosen the bucket.
func TestPendingDigest(t *testing.T) {
	p := NewPending("abc")
	a, b := p.Token(60), p.Token(store.NeverBucket(3))
	ra, oka := Parse(a)
	rb, okb := Parse(b)
	if !oka || !okb || ra.Digest != p.Digest || rb.Digest != p.Digest || ra.Bucket != 60 || rb.Bucket != store.NeverBucket(3) {
		t.Fatalf("Parse(%q) = %+v %v, Parse(%q) = %+v %v; want digest %x in both", a, ra, oka, b, rb, okb, p.Digest)
	}
	random := a[len(a)-randomLen:]
	if want := store.Sum(TokenPrefix + "abc_" + random); p.Digest != want {
		t.Fatalf("digest %x, want SHA-256 of the token without its bucket %x", p.Digest, want)
	}
	if p.Ref(60) != ra {
		t.Fatalf("Ref(60) = %+v, Parse gives %+v", p.Ref(60), ra)
	}
	// Another client_id or prefix is another digest.
	if r, _ := Parse(strings.Replace(a, "oat_", "oak_", 1)); r.Digest == p.Digest {
		t.Fatal("the prefix is not covered by the digest")
	}
}

// Tokens of the earlier format (43 random characters, the digest of the
// whole token) keep working: their records were filed under that digest.
func TestParseEarlierFormat(t *testing.T) {
	old := "oat_abc_1o_" + strings.Repeat("Q", oldRandomLen)
	ref, ok := Parse(old)
	if !ok || ref.Digest != store.Sum(old) || ref.ClientID != "abc" || ref.Bucket != 60 {
		t.Fatalf("Parse(earlier format) = %+v %v, want the digest of the whole token", ref, ok)
	}
	key := "oak_abc_n2_" + strings.Repeat("Q", oldRandomLen)
	if ref, ok := Parse(key); !ok || ref.Digest != store.Sum(key) || ref.Bucket != store.NeverBucket(2) {
		t.Fatalf("Parse(earlier API key) = %+v %v", ref, ok)
	}
}
