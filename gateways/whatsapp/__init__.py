"""The WhatsApp Business Cloud API (`cloud_api`: requests, signed webhooks) and a local
server that follows it for tests and the demo (`local_server`)."""
