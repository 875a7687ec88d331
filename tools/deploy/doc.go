// Package deploy holds no code: it is the home of the tests that render the
// Kubernetes kit of deploy/kubernetes with kustomize's own library and check
// what it renders to. They live in the tools module so that the daemon's
// module does not require kustomize.
package deploy
