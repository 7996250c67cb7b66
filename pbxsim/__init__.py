"""A simulated PBX speaking real AMI and FastAGI, for the demo and tests."""
