"""pbxsim's dialplan applications: what each context of asterisk-conf/extensions.conf
does, written against the kernel's public API (pbxsim/kernel.py). The table that
maps contexts to them is pbxsim/dialplan.py."""
