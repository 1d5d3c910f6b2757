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
	for _, bad := range []string{
		"", "oat_", "oat_abc", "oat_abc_", "oat__1o_" + r,
		"oat_abc_" + r, // no bucket (the format before buckets)
		"oat_abc_1o_" + strings.Repeat("a", randomLen-1),
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
