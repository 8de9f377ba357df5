"""Locust load tests of the served models, with SLO gates (docs/load-and-bench.md)."""
