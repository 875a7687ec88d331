// Package deploy holds no code: it is the home of the deployment files
// (Prometheus scrape config, alerting rules and their unit tests, Grafana
// dashboard, Kubernetes manifests, compose file) and of the Go tests that
// check them with promtool and against the metrics observerd exports.
package deploy
