package credential

import (
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store"
)

// FuzzParse: Parse never panics, and what it accepts is exactly a
// credential it could have issued: the prefix, the client_id, the bucket
// in canonical form and 44 characters of base64url (or 43, the earlier
// format), re-formatted to the same text, with the digest of all but the
// bucket (of the whole, in the earlier format).
func FuzzParse(f *testing.F) {
	r := strings.Repeat("A", oldRandomLen)
	tok, _ := NewToken("4jibxb7jrdidojsbxotxpeutxw", 1_763_900_000)
	key, _ := NewAPIKey("kc-billing", store.NeverBucket(0))
	for _, s := range []string{
		tok, key, "", "oat_", "oak_", "oat_abc_1o_" + r, "oak_abc_1o_" + r, "oat_abc_" + r,
		"oat_abc_0_" + r, "oat_abc_01o_" + r, "oat_abc_1O_" + r, "oat_abc_-5_" + r,
		"oat_ab{c}_1o_" + r, "oat_a.b~c-d_1o_" + r, "oat_abc_1o_" + r + "=", "ocs_" + r, "oadm_" + r,
		"oat_abc_" + strings.Repeat("z", 13) + "_" + r, "oat_abc_1o_" + strings.Repeat("_", randomLen),
		"oat_abc_1o_" + r + "A", "oak_abc_n0_" + r + "_",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ref, ok := Parse(raw)
		if !ok {
			if ref != (store.TokenRef{}) {
				t.Fatalf("Parse(%q) refused but returned %+v", raw, ref)
			}
			return
		}
		prefix := raw[:len(TokenPrefix)]
		if prefix != TokenPrefix && prefix != APIKeyPrefix {
			t.Fatalf("Parse(%q) accepted prefix %q", raw, prefix)
		}
		if !ValidClientID(ref.ClientID) {
			t.Fatalf("Parse(%q) accepted client_id %q", raw, ref.ClientID)
		}
		head := prefix + ref.ClientID + "_" + store.FormatBucket(ref.Bucket) + "_"
		random, ok := strings.CutPrefix(raw, head)
		if !ok || len(random) != randomLen && len(random) != oldRandomLen || !isBase64URL(random) {
			t.Fatalf("Parse(%q) = %+v, which formats as %q and 43 or 44 characters of base64url", raw, ref, head)
		}
		want := store.Sum(prefix + ref.ClientID + "_" + random)
		if len(random) == oldRandomLen {
			want = store.Sum(raw)
		}
		if ref.Digest != want {
			t.Fatalf("Parse(%q): digest is not the digest of the credential (without its bucket, for 44 random characters)", raw)
		}
	})
}
