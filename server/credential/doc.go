// Package credential knows oauthd's credentials: the formats of client ids,
// secrets, access tokens, API keys and admin keys (made and parsed here,
// before anything reaches Redis), and State, the one place that decides
// whether a stored token is active. The token endpoint, introspection, the
// admin API and the application service all use it.
package credential
