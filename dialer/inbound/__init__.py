"""Blended inbound: debtors who call back reach an agent with their account on screen."""
