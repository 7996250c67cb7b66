"""CSV imports: accounts, contact history and payments, all-or-nothing by default."""
