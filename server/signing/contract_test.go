package signing

import "github.com/oauthd/oauthd/store"

// KeyStore is part of the storage contract: this stops compiling when they
// drift apart.
var _ KeyStore = store.Backend(nil)
