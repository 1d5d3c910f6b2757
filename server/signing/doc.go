// Package signing keeps oauthd's JWT signing keys and signs and verifies
// JWT access tokens (RFC 9068). Keys live in the store sealed with
// AES-256-GCM under a key from the configuration, so every replica signs
// with the same current key and a copy of Redis alone reveals none.
// Rotation publishes a new key before it signs and keeps the old one
// published until every token it signed has expired.
package signing
