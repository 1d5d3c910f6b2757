// Package clientauth verifies the credentials an OAuth client proves
// itself with when it holds no shared secret oauthd can compare (issue
// 18): JWT client assertions (RFC 7521, RFC 7523 §2.2 and §3) for
// private_key_jwt, client_secret_jwt and workload identity (an external
// issuer's token: a Kubernetes service-account token, a SPIFFE JWT-SVID,
// a CI system's OIDC token), and client certificates (RFC 8705 §2) for
// tls_client_auth and self_signed_tls_client_auth.
//
// It knows no HTTP endpoint and no storage: the server parses the request,
// loads the application, calls VerifyAssertion or VerifyCertificate, and
// answers invalid_client for any *Error. What it checks, and why:
//
//   - alg from an allowlist per method (SigningAlgorithms for keys,
//     SecretAlgorithms for client_secret_jwt), never "none", never an
//     HMAC for a key application: otherwise a public key could serve as
//     an HMAC secret (algorithm confusion). RSA keys under 2048 bits are
//     refused.
//   - iss and sub are the client_id, aud names this server (its issuer or
//     a token endpoint URL), so an assertion made for another server
//     cannot be played here (RFC 7523 §3).
//   - exp is required, not past, and at most MaxLifetime (5 minutes)
//     after iat, so a leaked assertion is short-lived; nbf and iat are
//     not in the future; Leeway (30s) absorbs clock skew.
//   - jti is required; the caller makes it single-use across replicas
//     (this package keeps no state that replicas share).
//   - Workload identity: an application trusting an external issuer takes
//     only that issuer's tokens carrying the registered sub and naming the
//     registered aud. Such a token is reused by its holder until it
//     expires (Kubernetes refreshes it at 80% of an hour), so it needs no
//     jti, is not single-use (Assertion.Workload), and its lifetime is
//     bounded by MaxExternalLifetime (24 hours) instead.
//   - Keys come from the application's inline JWKS, its jwks_uri, or its
//     trusted issuer; fetches are https only, bounded in time and size,
//     cached, never redirected, and refused for non-public addresses
//     (checked on the address dialled, so DNS rebinding does not pass),
//     so a registered URL cannot make oauthd probe its own network.
//   - A client certificate chains to the configured client CA and carries
//     the registered subject, or is a certificate registered in x5c.
//
// Refusal reasons name what failed, never the assertion, a secret or a
// key, so they may be logged.
package clientauth
