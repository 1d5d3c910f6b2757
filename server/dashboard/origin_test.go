package dashboard

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

// fromElsewhere: Sec-Fetch-Site decides when sent; else Origin must be
// the scheme and Host the request arrived with, https over TLS or with
// secure cookies (TLS ended at a proxy); neither header passes.
func TestFromElsewhere(t *testing.T) {
	tests := []struct {
		name         string
		tls, secure  bool
		site, origin string
		refused      bool
	}{
		{"no headers", false, false, "", "", false},
		{"same origin, http", false, false, "", "http://dash.example:8081", false},
		{"host case", false, false, "", "http://DASH.example:8081", false},
		{"same origin over TLS", true, false, "", "https://dash.example:8081", false},
		{"TLS at a proxy, secure cookies", false, true, "", "https://dash.example:8081", false},
		{"http origin, secure cookies", false, true, "", "http://dash.example:8081", true},
		{"http origin over TLS", true, false, "", "http://dash.example:8081", true},
		{"https origin on plain http", false, false, "", "https://dash.example:8081", true},
		{"another port", false, false, "", "http://dash.example:8082", true},
		{"another host", false, false, "", "https://evil.example", true},
		{"a path in Origin", false, false, "", "http://dash.example:8081/", true},
		{"opaque origin", false, false, "", "null", true},
		{"same-origin decides", false, true, "same-origin", "http://dash.example:8081", false},
		{"same-site", false, false, "same-site", "", true},
		{"cross-site with our Origin", false, false, "cross-site", "http://dash.example:8081", true},
		{"none", false, false, "none", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://dash.example:8081/dashboard/applications", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tt.site != "" {
				r.Header.Set("Sec-Fetch-Site", tt.site)
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if got := fromElsewhere(r, tt.tls || tt.secure); (got != "") != tt.refused {
				t.Errorf("fromElsewhere = %q, want refused %v", got, tt.refused)
			}
		})
	}
}
