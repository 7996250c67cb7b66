"""The audit log as a transparency log: RFC 9162 Merkle tree, signed checkpoints, witnesses."""
