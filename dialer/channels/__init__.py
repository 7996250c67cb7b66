"""The ways the dial loop reaches a debtor (a call today): each places an attempt
and reports what became of it, so the loop knows no channel's protocol."""
