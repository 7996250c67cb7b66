"""Web console for agents, supervisors and auditors."""
