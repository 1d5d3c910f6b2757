// Package dashboard is oauthd's web console for operators: server-rendered
// html/template pages on the application service (server/apps), with its
// CSS and a little JavaScript embedded in the binary. Every action is a
// plain HTML form post; the script only adds copy buttons and inline
// checks. Operators sign in with an admin key, or with the client ID and
// secret of an application holding the applications scope, which then
// administers exactly what the admin API would let it (apps.Delegate).
//
// Sessions are random 256-bit ids in an HttpOnly, SameSite=Strict cookie,
// kept server-side (SessionStore, in Redis) under the id's SHA-256, so a
// sign-out ends the session on every replica. Every state-changing request
// carries the session's CSRF token; every answer carries a strict
// Content-Security-Policy. See docs/security.md.
//
// The package uses the HTTP kit (server/web) and never imports
// server/admin or its wire contract (server/admin/adminapi): the
// dashboard and the admin API are two faces of one service, each with its
// own view of its records.
package dashboard
