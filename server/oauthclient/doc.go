// Package oauthclient gets access tokens for a Go daemon, a machine client
// of oauthd, and presents them to resource servers: the client-credentials
// grant (RFC 6749 §4.4), authenticated with the daemon's private key
// (private_key_jwt, RFC 7523 §2.2) or a client secret, optionally for
// DPoP-bound tokens (RFC 9449) that a thief cannot use without the
// daemon's DPoP key. It imports the standard library, golang.org/x/oauth2
// and golang.org/x/sync, and go-jose for JWS: none of oauthd's own
// packages, no Redis, no echo.
//
//	key, _ := x509.ParsePKCS8PrivateKey(pemBlock.Bytes) // ecdsa P-256, ed25519 or rsa
//	dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
//	c, err := oauthclient.New(oauthclient.Config{
//		TokenURL: "https://auth.example.com/oauth/token",
//		ClientID: "4jibxb7jrdidojsbxotxpeutxw",
//		Key:      key.(crypto.Signer), // private_key_jwt
//		DPoPKey:  dpopKey,             // ask for DPoP-bound tokens
//		Scopes:   []string{"sms"},
//	})
//	hc := c.HTTPClient() // each request: "Authorization: DPoP <token>" and a fresh proof
//	resp, err := hc.Post("https://sms.example.com/v1/sms", "application/json", body)
//
// Client.TokenSource is an oauth2.TokenSource for code built on
// golang.org/x/oauth2; note that oauth2.Transport presents any token as
// it is typed and cannot sign DPoP proofs, so DPoP-bound tokens need
// Client.Transport.
//
// What the package sends, by the RFCs:
//
//   - the token request: grant_type=client_credentials, scope, and either
//     client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
//     with client_assertion, a JWT signed with Key (iss and sub the
//     client_id, aud the token endpoint, a random jti, iat, and exp a
//     minute later), or HTTP Basic with the form-encoded id and secret
//     (RFC 6749 §2.3.1).
//   - with DPoPKey, a DPoP header on it: a proof (typ dpop+jwt, the public
//     key in jwk; jti, htm POST, htu the token endpoint, iat). An answer
//     400 use_dpop_nonce (RFC 9449 §8) is retried once with the server's
//     DPoP-Nonce. A server that answers a Bearer token instead (one that
//     does not do DPoP) is taken at its word: that token is sent as
//     Bearer.
//   - to resource servers, a DPoP-bound token as "Authorization: DPoP" with
//     a fresh proof per request (htm, htu without query and fragment, ath
//     the token's hash, the latest nonce that server sent); a 401
//     use_dpop_nonce (RFC 9449 §9) is retried once, with the body again
//     when the request can give it again (http.NewRequest makes that so
//     for in-memory bodies). Other tokens go as "Authorization: Bearer".
//
// Tokens are cached and renewed a little before they expire; concurrent
// callers share one token request.
package oauthclient
