"""Protocol clients (and local servers for tests and the demo) of message gateways:
SMPP 3.4, SMTP, the WhatsApp Business Cloud API. Protocol only: no business rules;
imports nothing of ours above `cobrador.ground`."""
