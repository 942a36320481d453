// Package deploy holds the files that run ringriftd under monitoring:
// grafana/ringriftd.json, a Grafana dashboard over the daemon's Prometheus
// metrics, and prometheus/ringriftd-alerts.yml, alerting rules (a config
// stuck, dead letters, subscription lag or stall, appends unavailable,
// server errors, slow appends, the daemon down or not ready) with their
// promtool unit tests. Its test checks them with promtool and against the
// metrics a live daemon exports. There is no Go code to import.
package deploy
