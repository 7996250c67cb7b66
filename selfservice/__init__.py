"""Debtor self-service: the portal's and the assistant's actions (debtor_actions), the
identity check (identity), the assistant and its conversations, payment links."""
