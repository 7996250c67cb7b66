"""Compliance: rules engine, country profiles, registries, caps, consent, callback windows."""
