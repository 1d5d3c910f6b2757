// Package web is the HTTP kit every oauthd surface shares (the public
// OAuth endpoints, the admin API, the dashboard and the ops routes): the
// echo setup, errors as values written as JSON in one place, one
// structured log line per request, and the health, metrics and profiler
// routes. It knows none of its users: each passes what is particular to it
// (a 404 text, a metrics hook) in Config.
package web
