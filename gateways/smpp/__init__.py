"""SMPP 3.4, the protocol of LatAm carriers' and aggregators' SMS centres: a sans-IO
codec (`codec`), an asyncio client that binds as a transceiver (`client`), and a small
SMSC for tests and the demo (`smsc`)."""
