"""Dialer: hopper, pacing, call state machine, AMI and FastAGI adapters."""
