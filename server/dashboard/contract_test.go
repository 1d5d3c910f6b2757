package dashboard_test

import (
	"github.com/oauthd/oauthd/server/dashboard"
	"github.com/oauthd/oauthd/store"
)

// SessionStore is part of the storage contract: this stops compiling when
// they drift apart.
var _ dashboard.SessionStore = store.Backend(nil)
