"""Prometheus metric definitions, dashboards and alert rules."""
