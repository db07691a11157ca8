// Package deploy holds no code: its tests check that the deployment files (systemd unit, Dockerfile, compose
// file, Kubernetes manifests) agree with what covsync does, and that the configs they ship load.
package deploy
