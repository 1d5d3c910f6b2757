// Package deploy holds oauthd's deployment files (Dockerfile, compose file,
// Kubernetes manifests, the Helm chart, the Grafana dashboard and the
// Prometheus alert rules) and the tests that check them: every manifest,
// and every object the chart renders for each of its value sets, decodes
// strictly into the Kubernetes API types; the invariants that keep the
// admin port private and the probes pointed at the right endpoints hold;
// the chart and the plain manifests agree; each alert fires on series that
// should fire it and not on healthy ones; the dashboard and the rules query
// only metrics oauthd serves; every dashboard panel shows data over a
// simulated half hour of a real oauthd, drawn as docs/grafana-dashboard.png;
// and the Dockerfile's build lines produce a binary that starts.
package deploy
