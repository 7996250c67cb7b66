"""Compliance: rules engine, country profiles, registries, caps and the audit chain."""
