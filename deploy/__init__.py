"""Deployment helpers: the start-up secrets check and container entrypoints."""
