"""Scenario files shipped with pbxsim (JSON)."""
