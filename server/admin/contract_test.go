package admin

import "github.com/oauthd/oauthd/store"

// What the admin API needs of storage is part of the storage contract:
// this stops compiling when they drift apart.
var (
	_ TokenReader = store.Backend(nil)
	_ Limiter     = store.Backend(nil)
)
