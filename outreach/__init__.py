"""Staged collection strategies and the message channels they send through (SMS,
WhatsApp, e-mail, letters): each channel implements the `Channel` port of
`dialer.channels` over a protocol client of `gateways`, under compliance's check."""
