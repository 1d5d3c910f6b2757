package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/apps"
)

// A daemon may ask for a token that lives shorter than its application's
// (ttl, in seconds): expires_in, the JWT's exp and introspection's exp
// follow it. A longer one is capped to the application's lifetime, which
// expires_in then says; a ttl that is no whole number of seconds, or
// repeated, is invalid_request.
func TestTokenTTL(t *testing.T) {
	bothCaches(t, func(t *testing.T, cached bool) {
		env, _ := newJWTServer(t)
		if cached {
			env.cacheApps()
		}
		rs := env.createApp(apps.NewApplication{Scopes: []string{"tokens:introspect"}})
		opaque := env.createApp(apps.NewApplication{TokenLifetime: "1h"})
		jwt := env.createApp(apps.NewApplication{TokenLifetime: "1h", TokenFormat: "jwt"})
		never := env.createApp(apps.NewApplication{TokenLifetime: "never"})
		for _, tt := range []struct {
			name string
			app  testApp
			ttl  string
			want float64 // expires_in, and exp - iat
		}{
			{"shorter", opaque, "60", 60},
			{"shorter JWT", jwt, "300", 300},
			{"longer, capped", opaque, "7200", 3600},
			{"longer JWT, capped", jwt, "86400", 3600},
			{"as long", opaque, "3600", 3600},
			{"an application whose tokens never expire", never, "120", 120},
		} {
			code, body := env.tokenWith(tt.app, url.Values{"ttl": {tt.ttl}})
			tok, _ := body["access_token"].(string)
			if code != 200 || body["expires_in"] != tt.want {
				t.Fatalf("%s: ttl=%s: %d %v, want expires_in %v", tt.name, tt.ttl, code, body, tt.want)
			}
			if tt.app.TokenFormat == "jwt" {
				if c := jwtPart(t, tok, 1); c["exp"].(float64)-c["iat"].(float64) != tt.want {
					t.Errorf("%s: the JWT lives from %v to %v, want %v seconds", tt.name, c["iat"], c["exp"], tt.want)
				}
			}
			code, raw := env.introspect(rs, url.Values{"token": {tok}})
			var in struct {
				Active   bool
				Exp, Iat float64
			}
			if err := json.Unmarshal([]byte(raw), &in); code != 200 || err != nil || !in.Active || in.Exp-in.Iat != tt.want {
				t.Errorf("%s: introspection %d %s, want active for %v seconds", tt.name, code, raw, tt.want)
			}
		}
		for _, ttl := range []string{"0", "-5", "1.5", "60s", "+60", "", "315360001", "99999999999999999999"} {
			code, body := env.tokenWith(opaque, url.Values{"ttl": {ttl}})
			if code != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(body["error_description"].(string), "ttl") {
				t.Errorf("ttl=%q: %d %v, want invalid_request naming ttl", ttl, code, body)
			}
		}
		code, body := env.tokenWith(opaque, url.Values{"ttl": {"60", "120"}})
		if code != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("ttl repeated: %d %v, want invalid_request", code, body)
		}
	})
}
