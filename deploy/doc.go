// Package deploy holds graphsoar's deployment artefacts: the Kubernetes
// manifests (kubernetes/), the JetStream stream and consumer definitions
// (nats/) and a docker compose file for a laptop; the image is the
// repository's Dockerfile. The package has no code: its tests check the
// artefacts offline against the code they deploy (go test ./deploy).
package deploy
