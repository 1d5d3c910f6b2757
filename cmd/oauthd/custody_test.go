package main

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// A replica that has not reached Redis does not know its signing keys:
// its JWKS is a 503 nobody caches, not an empty set that verifiers would
// cache for five minutes and refuse every token with.
func TestJWKSWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, map[string]string{"OAUTHD_JWT_SEALING_KEY": newSealingKey(t)}, "--redis-url", "redis://127.0.0.1:1")
	resp, err := http.Get(p.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := getJSON(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("jwks while Redis is down: %d %v, Cache-Control %q, Retry-After %q",
			resp.StatusCode, body, resp.Header.Get("Cache-Control"), resp.Header.Get("Retry-After"))
	}
}

// The attack of issue 17: a read-only copy of Redis (a replica, a backup,
// an RDB file) opened the JWT signing keys sealed in it, since the sealing
// key was kept beside them, and forged tokens every resource server
// accepted. Here the attacker has every value in Redis and tries each one
// that decodes to 32 bytes (raw, base64 or hex, whole or as a JSON string
// inside one) as the AES-256-GCM key of every sealed signing key.
//
// With the default settings no signing key is made at all, nothing of
// the custody is in Redis, and a JWT application is told what the operator
// must set. With the sealing key in the environment, JWTs are issued and
// verify, and nothing in Redis opens their keys. Only the explicit
// insecure setting keeps the old custody, warned about on every start; it
// shows the attacker's side works: it forges a token the JWKS verifies.
// An oauthd with default settings on a Redis such a custody left says, as
// an error, how to move the keys out.
func TestRedisCopyCannotForgeJWTs(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Run("default", func(t *testing.T) {
				rs := startScannedRedis(t, kind)
				p := startOAuthd(t, nil, "--redis-url", rs.URL)
				a := createJWTApp(t, rs.URL)
				code, body := tokenAnswer(t, p, a)
				if code != http.StatusInternalServerError || body["error"] != "server_error" ||
					!contains(body["error_description"].(string), "jwt.sealing_key_file") ||
					!contains(body["error_description"].(string), "OAUTHD_JWT_SEALING_KEY") {
					t.Errorf("a JWT application's token with no sealing key configured: %d %v", code, body)
				}
				// The CLI straight on Redis follows the same custody: the
				// keys verbs say what is missing, and make nothing.
				for _, verb := range [][]string{{"keys", "list"}, {"keys", "rotate"}} {
					if _, err := runCLI(t, map[string]string{"OAUTHD_REDIS_URL": rs.URL}, verb...); err == nil || !contains(err.Error(), "jwt.sealing_key_file") {
						t.Errorf("oauthd %v with no sealing key: %v", verb, err)
					}
				}
				copied := copyRedis(t, rs.Addr)
				if kid, from := forge(copied); kid != "" {
					t.Fatalf("a copy of Redis opened signing key %s with %s", kid, from)
				}
				waitForLog(t, p, `"level":"WARN","msg":"JWT signing is off`)
				for _, k := range copied.keys {
					if contains(k, ":jwt:") {
						t.Errorf("with no sealing key configured Redis holds %s", k)
					}
				}
				if code, _ := httpGet(t, p.URL+"/.well-known/jwks.json"); code != http.StatusNotFound {
					t.Errorf("jwks with JWT signing off: %d, want 404", code)
				}
			})
			t.Run("key in the environment", func(t *testing.T) {
				rs := startScannedRedis(t, kind)
				p := startOAuthd(t, map[string]string{"OAUTHD_JWT_SEALING_KEY": newSealingKey(t)}, "--redis-url", rs.URL)
				a := createJWTApp(t, rs.URL)
				verifyJWT(t, issueJWT(t, p, a), jwksOf(t, p))
				copied := copyRedis(t, rs.Addr)
				if len(copied.sealed) == 0 {
					t.Fatalf("no sealed signing key in Redis: %v", copied.keys)
				}
				if kid, from := forge(copied); kid != "" {
					t.Fatalf("a copy of Redis opened signing key %s with %s", kid, from)
				}
				for _, k := range copied.keys {
					if strings.HasSuffix(k, ":jwt:seal") {
						t.Errorf("with a sealing key in the environment Redis holds %s", k)
					}
				}
			})
			t.Run("insecure", func(t *testing.T) {
				rs := startScannedRedis(t, kind)
				p := startOAuthd(t, map[string]string{"OAUTHD_JWT_INSECURE_SEALING_KEY_IN_REDIS": "true"}, "--redis-url", rs.URL)
				if !contains(p.Logs.String(), `"level":"WARN","msg":"jwt.insecure_sealing_key_in_redis is set`) {
					t.Errorf("no warning about the insecure setting:\n%s", p.Logs)
				}
				a := createJWTApp(t, rs.URL)
				issueJWT(t, p, a)
				kid, from := forge(copyRedis(t, rs.Addr))
				if kid == "" {
					t.Fatal("the attack opened no signing key of the insecure custody: the test would miss a regression")
				}
				t.Logf("with the insecure setting, a copy of Redis opens signing key %s with %s", kid, from)
				forged := forgeJWT(t, copyRedis(t, rs.Addr), p.URL)
				if _, claims := verifyJWT(t, forged, jwksOf(t, p)); claims["client_id"] != "forged" {
					t.Fatalf("forged claims %v", claims)
				}

				// The next oauthd with default settings signs nothing, and
				// says as an error what to do with the keys left in Redis.
				q := startOAuthd(t, nil, "--redis-url", rs.URL)
				waitForLog(t, q, `"level":"ERROR","msg":"JWT signing is off`)
				if logs := q.Logs.String(); !contains(logs, "oauthd keys reseal --to-key-file") {
					t.Errorf("the upgrade line names no re-seal path:\n%s", logs)
				}
				if code, body := tokenAnswer(t, q, a); code != http.StatusInternalServerError {
					t.Errorf("a JWT application's token from the upgraded oauthd: %d %v", code, body)
				}
			})
		})
	}
}

// On the embedded store, where nothing persists, oauthd signs with a key
// made in memory: `make run` gives JWTs without any setting.
func TestEmbeddedSignsJWTs(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	if set := jwksOf(t, p); len(set.Keys) != 1 {
		t.Fatalf("the embedded store's JWKS holds %d keys, want 1", len(set.Keys))
	}
	if contains(p.Logs.String(), "JWT signing is off") || contains(p.Logs.String(), "insecure") {
		t.Fatalf("the embedded store warns about JWT custody:\n%s", p.Logs)
	}
}

// newSealingKey is a fresh sealing key as OAUTHD_JWT_SEALING_KEY takes it;
// the leak scan looks for it in every log line.
func newSealingKey(t *testing.T) string {
	t.Helper()
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	k := base64.StdEncoding.EncodeToString(raw[:])
	leaks.register("JWT sealing key", k)
	return k
}

// createJWTApp creates an application with token_format jwt, straight on
// the Redis at redisURL.
func createJWTApp(t *testing.T, redisURL string) app {
	t.Helper()
	return createApp(t, redisURL, "--name", "jwt", "--scopes", "sms", "--lifetime", "1h", "--token-format", "jwt")
}

// tokenAnswer asks p for a token for a, and waits out the 503s of a
// replica still loading its keys.
func tokenAnswer(t *testing.T, p *program, a app) (int, map[string]any) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp := postForm(t, p.URL+"/oauth/token", "grant_type=client_credentials", basicAuth(a.ClientID, a.ClientSecret))
		body := getJSON(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp.StatusCode, body
		}
	}
}

func issueJWT(t *testing.T, p *program, a app) string {
	t.Helper()
	code, body := tokenAnswer(t, p, a)
	tok, _ := body["access_token"].(string)
	if code != http.StatusOK || strings.Count(tok, ".") != 2 {
		t.Fatalf("a JWT application's token: %d %v", code, body)
	}
	return tok
}

// jwksOf is p's JWKS, once it has loaded its keys (503 until then).
func jwksOf(t *testing.T, p *program) jose.JSONWebKeySet {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := httpGet(t, p.URL+"/.well-known/jwks.json")
		if code == http.StatusOK {
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(body), &set); err != nil {
				t.Fatalf("jwks: %v", err)
			}
			return set
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("jwks: %d %s", code, body)
		}
	}
}

func waitForLog(t *testing.T, p *program, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !contains(p.Logs.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %s:\n%s", want, p.Logs)
		}
	}
}

// redisCopy is what a read-only copy of Redis gives an attacker: every
// key, every value in it, and the sealed signing keys by kid.
type redisCopy struct {
	keys   []string
	values []copiedValue
	sealed map[string][]byte
}

// copiedValue is one value (or hash field name) and the key it is in.
type copiedValue struct{ key, text string }

func copyRedis(t *testing.T, addr string) redisCopy {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	cp := redisCopy{keys: keys, sealed: map[string][]byte{}}
	add := func(k string, texts ...string) {
		for _, s := range texts {
			cp.values = append(cp.values, copiedValue{k, s})
		}
	}
	for _, k := range keys {
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "string":
			add(k, c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				add(k, f, v)
				var rec struct{ Sealed []byte }
				if strings.HasSuffix(k, ":jwt:keys") && !strings.HasPrefix(f, "retire:") && json.Unmarshal([]byte(v), &rec) == nil {
					cp.sealed[f] = rec.Sealed
				}
			}
		case "list":
			add(k, c.LRange(ctx, k, 0, -1).Val()...)
		case "set":
			add(k, c.SMembers(ctx, k).Val()...)
		case "zset":
			add(k, c.ZRange(ctx, k, 0, -1).Val()...)
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					add(k, f, v.(string))
				}
			}
		}
	}
	return cp
}

// candidates are the 32-byte keys the attacker tries, each named by where
// it was found: every value and every JSON string inside one, raw, base64
// or hex.
func (c redisCopy) candidates() map[string][]byte {
	var texts []copiedValue
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case string:
			texts = append(texts, copiedValue{key, v})
		case []any:
			for _, e := range v {
				walk(key, e)
			}
		case map[string]any:
			for k, e := range v {
				texts = append(texts, copiedValue{key, k})
				walk(key, e)
			}
		}
	}
	for _, v := range c.values {
		texts = append(texts, v)
		var j any
		if json.Unmarshal([]byte(v.text), &j) == nil {
			walk(v.key, j)
		}
	}
	out := map[string][]byte{}
	for _, v := range texts {
		if len(v.text) == 32 {
			out["a raw value in "+v.key] = []byte(v.text)
		}
		for name, dec := range map[string]func(string) ([]byte, error){
			"hex": hex.DecodeString, "base64": base64.StdEncoding.DecodeString, "unpadded base64": base64.RawStdEncoding.DecodeString,
			"base64url": base64.URLEncoding.DecodeString, "unpadded base64url": base64.RawURLEncoding.DecodeString,
		} {
			if b, err := dec(strings.TrimSpace(v.text)); err == nil && len(b) == 32 {
				out["a "+name+" value in "+v.key] = b
			}
		}
	}
	return out
}

// forge returns the kid of the first sealed signing key a candidate opens
// and which candidate it was; "" when none opens any.
func forge(c redisCopy) (kid, from string) {
	if _, k, f := c.open(); k != nil {
		return k.kid, f
	}
	return "", ""
}

type openedKey struct {
	kid string
	key crypto.Signer
}

func (c redisCopy) open() (string, *openedKey, string) {
	for from, key := range c.candidates() {
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		for kid, sealed := range c.sealed {
			if len(sealed) < aead.NonceSize() {
				continue
			}
			der, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(kid))
			if err != nil {
				continue
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				continue
			}
			return kid, &openedKey{kid, priv.(crypto.Signer)}, from
		}
	}
	return "", nil, ""
}

// forgeJWT signs an access token of the attacker's choosing with a key
// opened from the copy.
func forgeJWT(t *testing.T, c redisCopy, issuer string) string {
	t.Helper()
	_, k, _ := c.open()
	if k == nil {
		t.Fatal("nothing to forge with")
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(s).Claims(map[string]any{"iss": issuer, "client_id": "forged", "sub": "forged",
		"scope": "sms", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "forged"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
