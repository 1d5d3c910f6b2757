package dashboard

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oauthd/oauthd/server/web"
)

// sameOrigin refuses, with 403 and a log line, a state-changing request
// the browser says was sent from another site, before its CSRF token is
// looked at: every dashboard post, sign-in and sign-out included. It is a
// second defence beside the token (and SameSite=Strict), for the day one
// of those fails.
func (d *Dashboard) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			return next(c)
		}
		if reason := fromElsewhere(r, d.secure(c)); reason != "" {
			web.LogAttrs(c, slog.String("reason", "cross-origin post refused: "+reason))
			return d.renderStatus(c, http.StatusForbidden, "Request refused",
				"Your browser says this request came from another site, so it was not carried out. Open the dashboard itself and try again there.")
		}
		return next(c)
	}
}

// fromElsewhere says why r comes from another origin than the dashboard's,
// "" when it does not or cannot be known.
//
// Sec-Fetch-Site, which browsers set and pages cannot, decides when
// present: only same-origin passes ("none", a navigation the user typed,
// never posts a dashboard form). Without it (browsers before 2023), Origin
// must be the dashboard's origin as the request arrived: the Host it was
// sent to, over https when it came over TLS or the cookies are marked
// Secure (dashboard.secure_cookies: TLS ends at a proxy in front), over
// http otherwise. Forwarded host and proto headers are not read, so a
// proxy in front must pass Host through. With neither header (curl, very
// old browsers) the CSRF token alone decides. Unlike the standard
// library's http.CrossOriginProtection, "none" is refused and the scheme
// is compared.
func fromElsewhere(r *http.Request, secure bool) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		if site == "same-origin" {
			return ""
		}
		return "Sec-Fetch-Site: " + truncate(site, 20)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	if !strings.EqualFold(origin, scheme+"://"+r.Host) {
		return "Origin: " + truncate(origin, 100)
	}
	return ""
}
