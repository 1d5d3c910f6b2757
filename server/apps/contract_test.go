package apps

import "github.com/oauthd/oauthd/store"

// Store is part of the storage contract: this stops compiling when they
// drift apart.
var _ Store = store.Backend(nil)
