// Package deploy holds oauthd's deployment files (Dockerfile, compose file,
// Kubernetes manifests) and the tests that check them: every manifest
// decodes strictly into the Kubernetes API types, the invariants that keep
// the admin port private and the probes pointed at the right endpoints
// hold, and the Dockerfile's build lines produce a binary that starts.
package deploy
