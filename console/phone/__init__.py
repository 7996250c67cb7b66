"""The agent's browser phone: SIP credentials per console session, the PJSIP
endpoints Asterisk reads, hold, and the HTTP API the page's phone module uses."""
