package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The JWT settings through the CLI, against a running server's admin API
// and straight on its Redis: an application made to issue JWTs for one
// audience gets RFC 9068 tokens that the JWKS named in oauthd's metadata
// verifies; `keys rotate` adds a key that is listed at once and signs only
// after jwt.publish_delay; switching the application back to opaque gives
// opaque tokens; a JWT that could never expire, or an unknown format, is
// refused with a message saying what to do.
func TestCLIJWT(t *testing.T) {
	t.Parallel()
	rs := startScannedRedis(t, redistest.Real)
	key, digest := newAdminKey(t)
	seal := newSealingKey(t)
	p := startOAuthd(t, map[string]string{"OAUTHD_ADMIN_KEY_SHA256": digest, "OAUTHD_JWT_SEALING_KEY": seal}, "--redis-url", rs.URL)
	ctx := context.Background()

	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	fetchJSON(t, p.URL+"/.well-known/oauth-authorization-server", &meta)
	if !strings.HasSuffix(meta.JWKSURI, "/.well-known/jwks.json") {
		t.Fatalf("metadata names jwks_uri %q", meta.JWKSURI)
	}
	jwks := func() jose.JSONWebKeySet {
		var set jose.JSONWebKeySet
		fetchJSON(t, p.URL+"/.well-known/jwks.json", &set)
		return set
	}

	for _, mode := range []struct {
		name string
		env  map[string]string
	}{
		{"remote", map[string]string{"OAUTHD_ENDPOINT": p.URL, "OAUTHD_ADMIN_KEY": key}},
		{"direct", map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY": seal}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			cli := func(args ...string) string {
				t.Helper()
				out, err := runCLI(t, mode.env, args...)
				if err != nil {
					t.Fatalf("oauthd %s: %v", strings.Join(args, " "), err)
				}
				return out
			}
			var created struct {
				ClientID     string   `json:"client_id"`
				ClientSecret string   `json:"client_secret"`
				TokenFormat  string   `json:"token_format"`
				Audiences    []string `json:"audiences"`
			}
			if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "jwt-"+mode.name, "--scopes", "sms",
				"--lifetime", "1h", "--token-format", "jwt", "--audience", "https://sms.example")), &created); err != nil {
				t.Fatal(err)
			}
			if created.TokenFormat != "jwt" || !slices.Equal(created.Audiences, []string{"https://sms.example"}) {
				t.Fatalf("created %+v", created)
			}
			cc := clientcredentials.Config{ClientID: created.ClientID, ClientSecret: created.ClientSecret, TokenURL: p.URL + "/oauth/token"}
			token := func() string {
				t.Helper()
				tok, err := cc.Token(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// The harvest knows oauthd's opaque formats only; a JWT is
				// as much a bearer credential.
				leaks.register("access token", tok.AccessToken)
				return tok.AccessToken
			}

			kid, claims := verifyJWT(t, token(), jwks())
			if claims["iss"] != meta.Issuer || claims["client_id"] != created.ClientID || claims["sub"] != created.ClientID ||
				claims["scope"] != "sms" || claims["aud"] != "https://sms.example" || claims["jti"] == nil {
				t.Fatalf("claims %v", claims)
			}
			if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
				t.Fatalf("exp - iat = %v, want the application's 1h", exp-iat)
			}

			var before, after struct {
				Keys []listedKey `json:"keys"`
			}
			json.Unmarshal([]byte(cli("keys", "list", "--json")), &before)
			var rotated struct {
				KID       string    `json:"kid"`
				Alg       string    `json:"alg"`
				SignsFrom time.Time `json:"signs_from"`
			}
			if err := json.Unmarshal([]byte(cli("keys", "rotate", "--json")), &rotated); err != nil || rotated.Alg != "EdDSA" {
				t.Fatalf("rotate: %+v %v", rotated, err)
			}
			if wait := time.Until(rotated.SignsFrom); wait < 9*time.Minute {
				t.Fatalf("the new key signs in %v; the default jwt.publish_delay is 10m", wait)
			}
			json.Unmarshal([]byte(cli("keys", "list", "--json")), &after)
			if len(after.Keys) != len(before.Keys)+1 || !slices.ContainsFunc(after.Keys, func(k listedKey) bool { return k.KID == rotated.KID }) {
				t.Fatalf("keys before %+v, after %+v, rotated %s", before, after, rotated.KID)
			}
			if table := cli("keys", "list"); !strings.Contains(table, rotated.KID) || !strings.Contains(table, "SIGNS_FROM") {
				t.Fatalf("keys list:\n%s", table)
			}
			// Until the publish delay has passed, the current key signs.
			if now, _ := verifyJWT(t, token(), jwks()); now != kid {
				t.Fatalf("a token right after the rotation is signed by %s, want the current key %s", now, kid)
			}
			if mode.name == "remote" {
				// The replica that rotated publishes the new key at once;
				// the others (and this one, for a rotation made straight
				// on Redis) within their reload interval.
				if set := jwks(); len(set.Key(rotated.KID)) != 1 {
					t.Fatalf("the JWKS does not publish the new key %s right after the rotation", rotated.KID)
				}
			}

			cli("apps", "update", created.ClientID, "--token-format", "opaque", "--clear-audiences")
			if tok := token(); !strings.HasPrefix(tok, "oat_") {
				t.Fatalf("after switching to opaque the token is %.12s...", tok)
			}

			for _, tt := range []struct {
				args []string
				want string
			}{
				{[]string{"apps", "create", "--name", "x", "--scopes", "sms", "--token-format", "jwt", "--lifetime", "never"}, "must expire"},
				{[]string{"apps", "create", "--name", "x", "--scopes", "sms", "--token-format", "paseto"}, "use opaque or jwt"},
				{[]string{"apps", "update", created.ClientID, "--token-format", "jwt", "--lifetime", "never"}, "must expire"},
			} {
				if _, err := runCLI(t, mode.env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("oauthd %v: error %v, want %q", tt.args, err, tt.want)
				}
			}
		})
	}
}

// listedKey is a line of `oauthd keys list --json`.
type listedKey struct {
	KID       string    `json:"kid"`
	SignsFrom time.Time `json:"signs_from"`
}

// verifyJWT checks token as a resource server would (signature by a key
// of set, typ at+jwt) and returns its key id and claims.
func verifyJWT(t *testing.T, token string, set jose.JSONWebKeySet) (string, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		t.Fatalf("not a JWS: %v", err)
	}
	h := tok.Headers[0]
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Fatalf("typ %v, want at+jwt", h.ExtraHeaders[jose.HeaderType])
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return h.KeyID, claims
}

func fetchJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
