package admin

import (
	"testing"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/store"
)

// What the admin API needs of storage is part of the storage contract:
// this stops compiling when they drift apart.
var (
	_ TokenReader = store.Backend(nil)
	_ Limiter     = store.Backend(nil)
)

// The wire names the audit logs as the store does: the handler passes the
// log parameter through.
func TestLogNames(t *testing.T) {
	if adminapi.LogAdmin != store.LogAdmin || adminapi.LogSecurity != store.LogSecurity {
		t.Fatalf("adminapi names the logs %q and %q, the store %q and %q", adminapi.LogAdmin, adminapi.LogSecurity, store.LogAdmin, store.LogSecurity)
	}
}
