package introspectredis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthd/oauthd/server/introspect"
	"github.com/oauthd/oauthd/server/oauthclient"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// Two replicas of one resource server sharing the Redis replay cache: a
// proof accepted by one is refused by the other, on miniredis and on a
// real redis-server, and of the same proof sent to both at once exactly
// one request goes through.
func TestSharedReplayCache(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dpop, err := oauthclient.NewDPoP(key)
	if err != nil {
		t.Fatal(err)
	}
	const token = "oat_bound"
	oauthd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"active": true, "client_id": "daemon", "scope": "sms",
			"token_type": "DPoP", "cnf": map[string]string{"jkt": dpop.Thumbprint()}})
	}))
	defer oauthd.Close()
	const uri = "https://sms.example/v1/sms"
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := redistest.Start(t, kind)
			replica := func() http.Handler {
				c, err := introspect.New(introspect.Config{Endpoint: oauthd.URL, ClientID: "rs", ClientSecret: "s",
					PublicURL: "https://sms.example", Realm: "sms-api", DPoPReplay: New(rs.Client(t), "sms-api:")})
				if err != nil {
					t.Fatal(err)
				}
				return c.Require("sms")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			}
			a, b := replica(), replica()
			send := func(h http.Handler, proof string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", uri, nil)
				r.Header.Set("Authorization", "DPoP "+token)
				r.Header.Set("DPoP", proof)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			proof, err := dpop.Proof("POST", uri, token, "")
			if err != nil {
				t.Fatal(err)
			}
			if w := send(a, proof); w.Code != 200 {
				t.Fatalf("first use at replica a: %d %s", w.Code, w.Body)
			}
			w := send(b, proof)
			if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), `DPoP realm="sms-api", error="invalid_dpop_proof", error_description="the DPoP proof was used before`) {
				t.Fatalf("replay at replica b: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			var body map[string]string
			if json.Unmarshal(w.Body.Bytes(), &body); body["error"] != "invalid_dpop_proof" {
				t.Fatalf("replay body %v", body)
			}

			// The key lives for the window and the slack, no longer.
			keys, err := rs.Client(t).Keys(context.Background(), "sms-api:dpop:*").Result()
			if err != nil || len(keys) != 1 {
				t.Fatalf("keys %v, %v: want one", keys, err)
			}
			pttl, err := rs.Client(t).PTTL(context.Background(), keys[0]).Result()
			if err != nil || pttl < 55*time.Second || pttl > 66*time.Second {
				t.Fatalf("PTTL %v, %v: want about 65s (iat + 60s window + 5s)", pttl, err)
			}

			// One proof, both replicas at once: one yes.
			for range 5 {
				proof, err := dpop.Proof("POST", uri, token, "")
				if err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				codes := make([]int, 2)
				for i, h := range []http.Handler{a, b} {
					wg.Go(func() { codes[i] = send(h, proof).Code })
				}
				wg.Wait()
				if codes[0]+codes[1] != 200+401 {
					t.Fatalf("the same proof at both replicas at once: %v, want one 200 and one 401", codes)
				}
			}
		})
	}
}

// Redis unreachable: the request is refused with 503, never accepted.
func TestReplayCacheDown(t *testing.T) {
	rs := redistest.Start(t, redistest.Mini)
	c := New(rs.Client(t), "x:")
	rs.Stop()
	if _, err := c.Seen(context.Background(), "k", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("Seen answered without Redis")
	}
	if seen, err := c.Seen(context.Background(), "k", time.Now().Add(-time.Second)); seen || err != nil {
		t.Fatalf("a proof past acceptance: %v %v, want nothing asked", seen, err)
	}
	if _, err := Open("http://not-redis", "x:"); err == nil {
		t.Fatal("Open took a non-Redis URL")
	}
}
