"""How long a message may take to reach the debtor after its final check: the batch's
writes, a free sending slot, the gateway's submit, and the provider's store and forward
to a handset that is off. The check asks the debtor's hours to allow all of it; a
message not handed over within it is checked again; the channels that can ask the
provider to drop what is not delivered within it do (SMPP validity_period, Kannel
`validity`, SMTP DELIVERBY), and a delivery reported later is recorded as late."""

from __future__ import annotations

from datetime import timedelta

MESSAGE_REACH = timedelta(minutes=15)
