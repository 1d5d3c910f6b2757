// Package introspect lets a Go resource server accept oauthd access tokens.
// It asks oauthd about each token by RFC 7662 introspection, authenticated
// with the resource server's own client credentials, and caches the answers
// briefly. It imports only the standard library, golang.org/x/sync,
// hashicorp/golang-lru, go-jose and OpenTelemetry's API (no SDK), so it
// brings neither Redis nor echo along; the echo adapter is in the
// introspectecho sub-package.
//
// Wiring, for a service whose oauthd application holds tokens:introspect:
//
//	client, err := introspect.New(introspect.Config{
//		Issuer:       "https://auth.example.com", // endpoint read from RFC 8414 metadata
//		ClientID:     os.Getenv("CLIENT_ID"),
//		ClientSecret: os.Getenv("CLIENT_SECRET"),
//	})
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux()
//	mux.Handle("POST /sms", client.Require("sms")(http.HandlerFunc(sendSMS)))
//
//	func sendSMS(w http.ResponseWriter, r *http.Request) {
//		info, _ := introspect.FromContext(r.Context())
//		log.Printf("sms from %s", info.ClientID)
//	}
//
// What the middleware answers:
//
//   - no token: 401, "WWW-Authenticate: Bearer realm=..." (RFC 6750 §3.1)
//     and a second challenge, "DPoP realm=..., algs=..." (RFC 9449 §7.1)
//   - inactive token: 401 with error="invalid_token"
//   - a required scope missing: 403 with error="insufficient_scope"
//   - oauthd unreachable, failing or refusing this service: 503 with
//     Retry-After; the reason is logged. A request is never let through
//     when oauthd has not said yes.
//
// Sender-constrained tokens: a token bound to a key (cnf.jkt in oauthd's
// answer, or in a JWT validated with LocalJWT) is accepted only as
// "Authorization: DPoP <token>" with a DPoP proof of that key (RFC 9449;
// dpopcheck.go; the proof's syntax, header, key and signature are read by
// package server/dpop's Parser, the one oauthd's token endpoint uses, so
// both take the same proofs: Ed25519, P-256 or RSA keys of 2048 to 4096
// bits), and refused as a bearer token; a token bound to
// a client certificate (cnf x5t#S256) only from a client that presented
// it on the connection, or through a trusted proxy's ClientCertHeader
// (RFC 8705; certbind.go). The refusals then:
//
//   - a bad proof (syntax, typ, alg, key, htm, htu, iat, ath, signature,
//     or a replay): 401 invalid_dpop_proof, in a DPoP challenge
//     with algs naming the algorithms accepted
//   - a token not bound, or bound to another key or certificate: 401
//     invalid_token
//   - with Config.DPoPNonce, a proof without the current nonce: 401
//     use_dpop_nonce and a DPoP-Nonce header (RFC 9449 §9)
//
// Every 401 names both schemes, unless Config.RequireDPoP leaves DPoP
// alone. Each proof is accepted once: Config.DPoPReplay remembers them,
// in memory by default; replicas of one service share one on Redis
// (introspectredis). Behind a proxy, Config.PublicURL says what URL
// clients use, which their proofs name (htu).
//
// Caching trades revocation latency for load: an active answer is reused
// for Config.CacheTTL (5s by default, never past the token's exp), so a
// revoked token can still be accepted for that long, unless the client
// follows oauthd's revocation feed (Config.FollowFeed, then Run in a
// goroutine): each revocation or application change then evicts the
// answers it concerns within milliseconds, CacheTTL defaults to 10
// minutes, and while the feed is not followed (connecting, reconnecting,
// catching up) answers are trusted only for Config.FallbackCacheTTL. See
// feed.go and docs/api.md. Inactive answers are
// kept for Config.InactiveCacheTTL. Errors are never cached. Concurrent
// requests with the same token share one request to oauthd. Tokens are
// cached under their SHA-256, never in the clear.
//
// Tracing: with Config.TracerProvider each request to oauthd is a client
// span below the span of the context the caller passed, and with
// Config.Propagator it carries that trace (W3C traceparent), so oauthd's
// spans join the resource server's trace. Both nil (the default) trace
// and send nothing.
package introspect
