"""Field collection: visits planned from the same accounts, daily routes, check-ins
within a set distance of the address, and field agents' positions on shift."""
