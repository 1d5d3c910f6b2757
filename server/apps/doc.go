// Package apps is the application service: the one place that validates
// and changes applications, their secrets, tokens and API keys, enforces
// what each actor may do (admin keys everything; delegated administrators
// only their own owner's applications, within their own rights), and
// records every change in the audit log. The admin API, the dashboard and
// the CLI all use it; it knows nothing of HTTP.
package apps
