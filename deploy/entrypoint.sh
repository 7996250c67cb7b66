#!/bin/sh
# Entry point of the cobrador image: refuse missing, weak or example secrets
# (deploy/secrets_check.py), then run the command (`cobrador dialer run`, ...).
set -eu
python -m deploy.secrets_check
exec "$@"
