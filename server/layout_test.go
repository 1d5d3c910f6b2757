package server

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The arrows between packages point one way (../shared/STYLE.md): each
// row names a package and what it must never depend on, directly or not.
// go list reads the build graph, so a new import that breaks a rule fails
// here, not in review.
func TestLayout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	const mod = "github.com/oauthd/oauthd/"
	rules := []struct {
		pkg    string
		forbid []string
	}{
		// The admin API and the dashboard use the kit and the service,
		// never the OAuth endpoints, nor each other.
		{"server/admin", []string{"server", "server/dashboard", "server/introspect"}},
		{"server/dashboard", []string{"server", "server/admin", "server/admin/adminapi", "server/introspect"}},
		// The OAuth endpoints do not use their own client.
		{"server", []string{"server/introspect", "server/admin", "server/dashboard", "server/apps"}},
		// The kit knows none of its users.
		{"server/web", []string{"server", "server/admin", "server/dashboard", "server/apps", "server/introspect"}},
		// The resource-server package is importable without the service,
		// the store, Redis or echo.
		{"server/introspect", []string{"server", "server/apps", "store", "store/redis", "server/web",
			"github.com/redis/go-redis/v9", "github.com/labstack/echo/v4"}},
		// Its Redis replay cache brings Redis, and nothing of the service.
		{"server/introspect/introspectredis", []string{"server", "server/apps", "store", "store/redis", "server/web",
			"github.com/labstack/echo/v4"}},
		// The daemons' client knows only the wire: none of oauthd's
		// packages, no Redis, no echo.
		{"server/oauthclient", []string{"server", "server/apps", "server/web", "server/admin", "server/introspect",
			"server/credential", "server/signing", "store", "store/redis", "scopes",
			"github.com/redis/go-redis/v9", "github.com/labstack/echo/v4"}},
		// DPoP proof checks: pure, for the OAuth endpoints and any other
		// user, without the service, the store, Redis or echo.
		{"server/dpop", []string{"server", "server/apps", "server/introspect", "server/web", "store", "store/redis",
			"github.com/redis/go-redis/v9", "github.com/labstack/echo/v4"}},
		{"server/clientip", []string{"server", "server/web", "store"}},
		// Client authentication checks credentials; it knows no endpoint,
		// no service and no storage backend.
		{"server/clientauth", []string{"server", "server/web", "server/apps", "server/admin", "store/redis",
			"github.com/redis/go-redis/v9", "github.com/labstack/echo/v4"}},
		{"server/apps", []string{"server", "server/web", "server/admin", "server/admin/adminapi", "server/dashboard"}},
		{"store", []string{"server", "server/apps", "scopes"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", mod+r.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", r.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, f := range r.forbid {
			full := f
			if !strings.Contains(f, ".") {
				full = mod + f
			}
			if slices.Contains(deps, full) {
				t.Errorf("%s depends on %s", r.pkg, f)
			}
		}
	}
	// The admin API's wire contract and client is importable by any Go
	// program: the standard library only.
	for _, pkg := range []string{"server/admin/adminapi"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		if deps := strings.Fields(string(out)); !slices.Equal(deps, []string{mod + pkg}) {
			t.Errorf("%s imports more than the standard library: %v", pkg, deps)
		}
	}
	// Nothing outside cmd imports cmd.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...", "../store/...", "../scopes/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, mod+"cmd") {
				t.Errorf("%s imports %s", fields[0], imp)
			}
		}
	}
}
