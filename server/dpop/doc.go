// Package dpop checks DPoP proofs (RFC 9449) where oauthd's token endpoint
// receives them, and makes and checks the server's DPoP nonces. It is
// pure: go-jose and the standard library, no store, no HTTP framework, so
// the OAuth endpoints use it without the resource-server package
// (server/introspect, which has its own allocation-lean proof parser for
// the per-request path and is left as it is).
package dpop
