// Package dpop reads DPoP proofs (RFC 9449): Parser, the one parser of a
// proof's syntax, header, key and signature, which the token endpoint
// (through Verifier, which checks the claims against its request) and the
// resource-server package (server/introspect, which checks them against
// its own) share; and the token endpoint's nonces. It is pure: go-jose's
// JSON, an LRU and the standard library, no store, no HTTP framework.
package dpop
