package server

import "github.com/oauthd/oauthd/store"

// What the endpoints need of storage is part of the storage contract:
// this stops compiling when they drift apart.
var (
	_ Store       = store.Backend(nil)
	_ AppReader   = store.Backend(nil)
	_ TokenIssuer = store.Backend(nil)
	_ Limiter     = store.Backend(nil)
	_ Feed        = store.Backend(nil)
)
