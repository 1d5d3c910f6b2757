package credential

import (
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store"
)

// FuzzParse: Parse never panics, and what it accepts is exactly a
// credential it could have issued: the prefix, the client_id, the bucket
// in canonical form and 43 characters of base64url, re-formatted to the
// same text, with the digest of the whole.
func FuzzParse(f *testing.F) {
	r := strings.Repeat("A", randomLen)
	tok, _ := NewToken("4jibxb7jrdidojsbxotxpeutxw", 1_763_900_000)
	key, _ := NewAPIKey("kc-billing", store.NeverBucket(0))
	for _, s := range []string{
		tok, key, "", "oat_", "oak_", "oat_abc_1o_" + r, "oak_abc_1o_" + r, "oat_abc_" + r,
		"oat_abc_0_" + r, "oat_abc_01o_" + r, "oat_abc_1O_" + r, "oat_abc_-5_" + r,
		"oat_ab{c}_1o_" + r, "oat_a.b~c-d_1o_" + r, "oat_abc_1o_" + r + "=", "ocs_" + r, "oadm_" + r,
		"oat_abc_" + strings.Repeat("z", 13) + "_" + r, "oat_abc_1o_" + strings.Repeat("_", randomLen),
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
		random := raw[len(raw)-randomLen:]
		if !isBase64URL(random) {
			t.Fatalf("Parse(%q): random part %q is not base64url", raw, random)
		}
		again := prefix + ref.ClientID + "_" + store.FormatBucket(ref.Bucket) + "_" + random
		if again != raw {
			t.Fatalf("Parse(%q) = %+v, which formats as %q", raw, ref, again)
		}
		if ref.Digest != store.Sum(raw) {
			t.Fatalf("Parse(%q): digest is not the digest of the credential", raw)
		}
	})
}
