#!/bin/sh
# Entry point of the Asterisk container in docker-compose: refuse an example
# AMI secret, render asterisk-conf/ (mounted read-only) into /etc/asterisk
# with the deployment's values (deploy/asterisk_conf.py), then start Asterisk.
set -eu
python3 /cobrador/deploy/secrets_check.py --require COBRADOR_AMI_SECRET
python3 /cobrador/deploy/asterisk_conf.py /cobrador/asterisk-conf /etc/asterisk
exec "$@"
