// Package adminapi is the admin API's wire contract: every request and
// answer under /admin/v1 with its JSON names, the error answer, and a Go
// client with one method per route. It imports only the standard library,
// so any Go program can drive an oauthd; the oauthd CLI is one, against a
// running server or, in process, against the handler it builds itself.
// docs/openapi.yaml describes the same contract, and a test in
// server/admin keeps the two equal.
package adminapi
