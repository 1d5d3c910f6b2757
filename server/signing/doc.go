// Package signing keeps oauthd's JWT signing keys and signs and verifies
// JWT access tokens (RFC 9068). Keys live in the store sealed with
// AES-256-GCM under a key the caller gives (from the configuration, so a
// copy of Redis alone reveals none), so every replica signs with the same
// current key; Reseal moves them to another sealing key. Rotation
// publishes a new key before it signs and keeps the old one published
// until every token it signed has expired.
package signing
