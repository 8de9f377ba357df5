"""Monitoring for the served models: the management exporter, Prometheus's configuration and
alert rules, the Grafana dashboard (docs/metrics.md)."""
