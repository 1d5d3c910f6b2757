// Package admin is the admin API: JSON over HTTP under /admin/v1 on the
// application service (server/apps), authenticated with an admin key or an
// oauthd access token holding the applications scope. oauthd serves it on
// its own listener when admin.addr is set. Its requests and answers are
// the wire contract's types (server/admin/adminapi), made from the
// service's records in wire.go. docs/openapi.yaml describes it, and a test
// keeps the two equal.
package admin
