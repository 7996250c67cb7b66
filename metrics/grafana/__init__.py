"""Grafana provisioning and dashboards (built by build_dashboards.py)."""
