// Package apps is the application service: the one place that validates
// and changes applications, their secrets, tokens and API keys, enforces
// what each actor may do (admin keys everything; delegated administrators
// only their own owner's applications, within their own rights), and
// records every change in the audit log. The admin API and the dashboard
// use it (the CLI through the admin API, in process or remote); it knows
// nothing of HTTP or JSON, and its errors carry a code (ErrorCode) that
// each of them answers in its own way.
package apps
