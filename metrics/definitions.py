"""Every cobrador metric, defined once on one registry; each process (dialer, console,
outreach) serves on /metrics only those its own code updates (metrics/roles.py: add a
new metric there too), the all-in-one demo all of them.

Rules (checked over the whole registry by tests/unit/metrics/):
- names are `cobrador_<thing>_<unit>`: counters end `_total`, times are
  `_seconds`, fractions are `_ratio` in 0..1, sizes `_bytes`; gauges that
  count things end with what they count (`_calls`, `_agents`, ...);
- labels come only from metrics.labels.ALLOWED_LABEL_NAMES, with values from
  small fixed sets (never an id, a phone number or a person's name). Use the
  helpers in metrics.labels (region_label, hour_label, reason_label, ...).

Aggregating across processes: gauges read from shared state (Redis: agents,
hopper, abandonment windows, inbound queue, registry age) are reported alike
by every dialer, so dashboards take `max by`; gauges of one process's own
state (calls in flight, AMI link, WebSockets) are summed.

Money amounts are in the major unit of the debtor's country currency (MXN,
COP, PEN): the `country` label says which, so never sum amounts across it.

Need a metric that is missing? Add it here, following the rules above.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metrics.age import AgeGauge

REGISTRY = CollectorRegistry(auto_describe=True)

# Bucket boundaries, in seconds, chosen around the decisions they support.
# The 2 s abandonment threshold and the 0.5 s pop-latency target are edges.
BRIDGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
POP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
RING_BUCKETS = (2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0)
CALL_LENGTH_BUCKETS = (15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
WRAP_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
INBOUND_WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0, 600.0)
RECORDING_CLOSE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)

# --- Calls (dialer) --------------------------------------------------------

CALLS_PLACED = Counter(
    "cobrador_calls_placed_total",
    "Originates sent to Asterisk (each one is an attempt).",
    ["campaign", "mode"],
    registry=REGISTRY,
)
CALLS_ANSWERED = Counter(
    "cobrador_calls_answered_total",
    "Placed calls the far end answered, counted once when the call ends, by what "
    "answered (result: human = AMD's HUMAN verdict or no AMD, machine = AMD's MACHINE, "
    "unscreened = hung up before any verdict).",
    ["campaign", "result"],
    registry=REGISTRY,
)
CALL_RESULTS = Counter(
    "cobrador_call_results_total",
    "Attempts by final result (contact = a human bridged to an agent, machine, "
    "abandoned, early_hangup = answered and hung up before an agent was due, "
    "busy, no_answer, failed, invalid_number = the carrier says the number does not "
    "exist, declined = refused at the far end, cancelled, blocked).",
    ["campaign", "result"],
    registry=REGISTRY,
)
ABANDONED = Counter(
    "cobrador_calls_abandoned_total",
    "Calls a person answered and no agent joined within 2 s of the end of the "
    "greeting (safe harbor played); a debtor who hung up first is not one.",
    ["campaign"],
    registry=REGISTRY,
)
ABANDONMENT_RATIO = Gauge(
    "cobrador_abandonment_ratio",
    "Legal abandonment rate over a rolling window (1h, 24h, 30d): abandoned / "
    "person-answered calls, AMD machine drops counted as abandoned persons (times "
    "the campaign's false-positive estimate, 1 by default); pacing steers on it.",
    ["campaign", "window"],
    registry=REGISTRY,
)
EARLY_HANGUP_RATIO = Gauge(
    "cobrador_early_hangup_ratio",
    "Debtors who answered and hung up during answering-machine detection or "
    "before their 2 s were up (not abandons) / those plus person-answered calls, "
    "over a rolling window (1h, 24h, 30d).",
    ["campaign", "window"],
    registry=REGISTRY,
)
ABANDONMENT_TARGET = Gauge(
    "cobrador_abandonment_target_ratio",
    "The campaign's abandonment limit; it must hold in every window.",
    ["campaign"],
    registry=REGISTRY,
)
CALLS_IN_FLIGHT = Gauge(
    "cobrador_in_flight_calls",
    "Placed calls not yet ended, by state (ringing, screening, waiting_agent, "
    "connected, bridged, safe_harbor).",
    ["campaign", "state"],
    registry=REGISTRY,
)
ORIGINATE_ERRORS = Counter(
    "cobrador_originate_errors_total",
    "Originates that Asterisk refused or that got no answer (reason: a snake_case "
    "code, e.g. metrics.labels.error_reason(exc) -> ami_action_timeout).",
    ["campaign", "reason"],
    registry=REGISTRY,
)
RING_TIME = Histogram(
    "cobrador_call_ring_seconds",
    "Originate to answer (or to giving up) of placed calls.",
    ["campaign"],
    buckets=RING_BUCKETS,
    registry=REGISTRY,
)
ANSWER_TO_BRIDGE = Histogram(
    "cobrador_answer_to_bridge_seconds",
    "Human answer to the debtor being bridged with an agent.",
    ["campaign"],
    buckets=BRIDGE_BUCKETS,
    registry=REGISTRY,
)
HANDLE_TIME = Histogram(
    "cobrador_call_handle_seconds",
    "Agent handle time of an outbound call: talk plus wrap-up, observed by the console "
    "when the agent leaves the wrap-up.",
    ["campaign"],
    buckets=CALL_LENGTH_BUCKETS,
    registry=REGISTRY,
)
TALK_TIME = Histogram(
    "cobrador_call_talk_seconds",
    "Bridged time of a call, agent and debtor talking.",
    ["campaign"],
    buckets=CALL_LENGTH_BUCKETS,
    registry=REGISTRY,
)
WRAP_TIME = Histogram(
    "cobrador_call_wrap_seconds",
    "Agent wrap-up time after an outbound call: from the call's end until the agent "
    "leaves the wrap-up (Disponible, its timer after the disposition, or a pause).",
    ["campaign"],
    buckets=WRAP_BUCKETS,
    registry=REGISTRY,
)
# Contact by the debtor's local hour of day and region: bounded because hour is
# 00..23 and region is an ISO 3166-2 code from metrics.labels.REGIONS (or
# "unknown"); the campaign is left out to keep the product small (<~2.5k series).
LOCAL_HOUR_ATTEMPTS = Counter(
    "cobrador_local_hour_attempts_total",
    "Calls placed, by the debtor's local hour of day (00..23) and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)
LOCAL_HOUR_CONTACTS = Counter(
    "cobrador_local_hour_contacts_total",
    "Calls a human answered, by the debtor's local hour of day (00..23) and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)
LOCAL_HOUR_RIGHT_PARTY = Counter(
    "cobrador_local_hour_right_party_contacts_total",
    "Right-party contacts (as the agent's disposition records them), by the debtor's local "
    "hour of day (00..23) at the call's start and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)

# --- Pacing and hopper (dialer) --------------------------------------------

DIAL_LEVEL = Gauge(
    "cobrador_pacing_dial_level",
    "Calls the pacing policy keeps ringing per ready agent at its last decision, those it "
    "just asked for included (1 in progressive mode; 0 with no agent ready).",
    ["campaign", "mode"],
    registry=REGISTRY,
)
PACING_TARGET_CALLS = Gauge(
    "cobrador_pacing_target_calls",
    "Calls in flight the pacing policy asked for at its last decision.",
    ["campaign", "mode"],
    registry=REGISTRY,
)
HOPPER_SIZE = Gauge(
    "cobrador_hopper_entries",
    "Accounts waiting in the campaign's hopper, eligible to be dialed.",
    ["campaign"],
    registry=REGISTRY,
)
HOPPER_EMPTY = Counter(
    "cobrador_hopper_empty_total",
    "Times the dialer wanted a call and the hopper was empty, by why it was empty "
    "(no_accounts, all_blocked, campaign_paused, refill_failed, or a compliance reason).",
    ["campaign", "reason"],
    registry=REGISTRY,
)
HOPPER_CLAIMS_REFUSED = Counter(
    "cobrador_hopper_claims_refused_total",
    "Hopper claims not dialed because SQL says the account must wait (promise_open: an "
    "open promise saved after it was queued; resting: its own next attempt is ahead, a "
    "stale entry).",
    ["campaign", "reason"],
    registry=REGISTRY,
)
HOPPER_LEASES_EXPIRED = Counter(
    "cobrador_hopper_leases_expired_total",
    "Hopper claims that timed out and went back (a dialer died holding them).",
    ["campaign"],
    registry=REGISTRY,
)

# --- Agents (console and dialer) -------------------------------------------

AGENTS_BY_STATE = Gauge(
    "cobrador_floor_agents",
    "Logged-in agents by state (ready, reserved, talking, wrap_up, paused, no_audio, pausing).",
    ["campaign", "state"],
    registry=REGISTRY,
)
POP_LATENCY = Histogram(
    "cobrador_screen_pop_latency_seconds",
    "Dialer publishing a screen-pop to the console sending it on the agent's WebSocket.",
    ["campaign"],
    buckets=POP_BUCKETS,
    registry=REGISTRY,
)
WEBSOCKETS_OPEN = Gauge(
    "cobrador_console_websocket_connections",
    "Agent WebSockets open on this console process.",
    [],
    registry=REGISTRY,
)

# --- Collections results (console) -----------------------------------------

DISPOSITIONS = Counter(
    "cobrador_dispositions_total",
    "Outcomes agents recorded, by outcome code (promise, refusal, wrong_number, ...).",
    ["campaign", "outcome"],
    registry=REGISTRY,
)
RIGHT_PARTY_CONTACTS = Counter(
    "cobrador_right_party_contacts_total",
    "Conversations with the debtor (or co-obligor) themself.",
    ["campaign", "country"],
    registry=REGISTRY,
)
PROMISES_MADE = Counter(
    "cobrador_promises_made_total",
    "Promises to pay recorded.",
    ["campaign", "country"],
    registry=REGISTRY,
)
PROMISED_AMOUNT = Counter(
    "cobrador_promised_amount_total",
    "Sum promised, in the major unit of the country's currency.",
    ["campaign", "country"],
    registry=REGISTRY,
)
# Read from SQL by every console (console/promise_metrics.py): a promise is kept or
# broken by the payments import too, a process Prometheus never scrapes.
RESOLVED_PROMISES = Gauge(
    "cobrador_resolved_promises",
    "Promises resolved in the window as their rows say now (result kept: the payment "
    "that kept it was made in the window; broken: found broken in the window; one a "
    "refund opened again no longer counts), read from SQL by every console (aggregate "
    "with max).",
    ["campaign", "country", "result", "window"],
    registry=REGISTRY,
)
KEPT_PROMISES_AMOUNT = Gauge(
    "cobrador_kept_promises_amount",
    "Sum of the promises kept in the window, in the major unit of the country's "
    "currency, read from SQL by every console (aggregate with max).",
    ["campaign", "country", "window"],
    registry=REGISTRY,
)

# --- Compliance ------------------------------------------------------------

DECISIONS = Counter(
    "cobrador_compliance_decisions_total",
    "Compliance decisions, allowed or not, at the hopper or at originate.",
    ["campaign", "country", "stage", "allowed"],
    registry=REGISTRY,
)
DECISION_BLOCKS = Counter(
    "cobrador_compliance_blocks_total",
    "Reasons of blocked decisions (a decision with two reasons counts twice).",
    ["campaign", "country", "stage", "reason"],
    registry=REGISTRY,
)
REGISTRY_AGE = AgeGauge(
    "cobrador_registry_age_seconds",
    "Age of the loaded do-not-call registry list (now minus the list's as-of time).",
    ["country", "registry"],
)
REGISTRY.register(REGISTRY_AGE)
REGISTRY_MAX_AGE = Gauge(
    "cobrador_registry_max_age_seconds",
    "Oldest the registry list may be before calls are blocked as registry_stale.",
    ["country", "registry"],
    registry=REGISTRY,
)
REGISTRY_ENTRIES = Gauge(
    "cobrador_registry_loaded_entries",
    "Numbers in the loaded registry list.",
    ["country", "registry"],
    registry=REGISTRY,
)

REGISTRY_LOADED = Gauge(
    "cobrador_registry_loaded_up",
    "1 while Redis answers with the registry's last import; 0 while it is missing or being "
    "reloaded from SQL (after a restart or a Redis loss): its calls are blocked as "
    "registry_unavailable until it is back.",
    ["registry"],
    registry=REGISTRY,
)

# --- Asterisk link (dialer) ------------------------------------------------

AMI_UP = Gauge(
    "cobrador_ami_up",
    "1 while the dialer's AMI connection is logged in, else 0.",
    [],
    registry=REGISTRY,
)
AMI_RECONNECTS = Counter(
    "cobrador_ami_reconnects_total",
    "AMI reconnections after a lost link.",
    [],
    registry=REGISTRY,
)
FASTAGI_FAILURES = Counter(
    "cobrador_fastagi_failures_total",
    "FastAGI requests whose handler failed (the call went to cobrador-failure).",
    ["reason"],
    registry=REGISTRY,
)

# --- Recordings (dialer, recordings purge) ---------------------------------

RECORDINGS_WRITTEN = Counter(
    "cobrador_recordings_written_total",
    "Recordings closed, hashed and stored.",
    ["campaign"],
    registry=REGISTRY,
)
RECORDINGS_FAILED = Counter(
    "cobrador_recordings_failed_total",
    "Recordings missing or empty when the call ended (reason: missing, empty, "
    "unreadable, storage_error).",
    ["campaign", "reason"],
    registry=REGISTRY,
)
RECORDING_BYTES = Counter(
    "cobrador_recordings_written_bytes_total",
    "Bytes of recordings stored.",
    ["campaign"],
    registry=REGISTRY,
)
RECORDING_CLOSE_TIME = Histogram(
    "cobrador_recording_close_seconds",
    "Time the dialer spent closing and hashing a recording.",
    [],
    buckets=RECORDING_CLOSE_BUCKETS,
    registry=REGISTRY,
)
RECORDINGS_PURGE = Counter(
    "cobrador_recordings_purge_total",
    "Recordings considered by a purge, by result (purged, held, failed, dry_run).",
    ["result"],
    registry=REGISTRY,
)

# --- Audit log (dialer: integrator and checkpointer) -----------------------

AUDIT_PENDING = Gauge(
    "cobrador_audit_pending_entries",
    "Audit entries written and not yet in the log's Merkle tree.",
    [],
    registry=REGISTRY,
)
AUDIT_LOG_SIZE = Gauge(
    "cobrador_audit_log_entries",
    "Entries in the audit log's Merkle tree (its tree size).",
    [],
    registry=REGISTRY,
)
AUDIT_CHECKPOINT_AGE = AgeGauge(
    "cobrador_audit_checkpoint_age_seconds",
    "Age of the newest signed checkpoint each place holds (witness=database: the newest "
    "signed; directory, http_N: the newest the witness took).",
    ["witness"],
)
REGISTRY.register(AUDIT_CHECKPOINT_AGE)
AUDIT_WITNESS_FAILURES = Counter(
    "cobrador_audit_witness_failures_total",
    "Times a witness could not take a checkpoint (retried on the next pass).",
    ["witness"],
    registry=REGISTRY,
)

# --- Inbound (dialer) ------------------------------------------------------

INBOUND_RECEIVED = Counter(
    "cobrador_inbound_received_total",
    "Inbound calls that reached cobrador.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_WAITING = Gauge(
    "cobrador_inbound_waiting_callers",
    "Inbound callers waiting for an agent now.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_LONGEST_WAIT = Gauge(
    "cobrador_inbound_longest_wait_seconds",
    "Queue wait so far of the inbound caller who has waited longest (0 when none).",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_ANSWERED = Counter(
    "cobrador_inbound_answered_total",
    "Inbound calls bridged to an agent.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_ABANDONED = Counter(
    "cobrador_inbound_abandoned_total",
    "Inbound callers who hung up while waiting in queue.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_CALLBACK_REQUESTS = Counter(
    "cobrador_inbound_callback_requests_total",
    "Inbound calls outside opening hours that left a callback request.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_LOST = Counter(
    "cobrador_inbound_lost_total",
    "Inbound calls closed as lost because the dialer serving them stopped.",
    ["campaign"],
    registry=REGISTRY,
)
INBOUND_WAIT = Histogram(
    "cobrador_inbound_wait_seconds",
    "Queue wait of inbound calls (from queue entry, after the greeting), answered or abandoned (service level from buckets).",
    ["campaign", "result"],
    buckets=INBOUND_WAIT_BUCKETS,
    registry=REGISTRY,
)
INBOUND_SERVICE_LEVEL = Gauge(
    "cobrador_inbound_service_level_ratio",
    "Inbound calls answered within the campaign's target wait / inbound calls, per window.",
    ["campaign", "window"],
    registry=REGISTRY,
)

# --- Messages (outreach channels: SMS, WhatsApp, e-mail, letters) ----------

MESSAGES = Counter(
    "cobrador_messages_total",
    "Messages by what their provider reported (sent = accepted by the gateway, then "
    "delivered or failed; read and replied where the channel tells).",
    ["channel", "result"],
    registry=REGISTRY,
)
MESSAGE_REPORTS_REFUSED = Counter(
    "cobrador_message_reports_refused_total",
    "Provider reports and callbacks refused: reason bad_signature, too_large, malformed, "
    "unknown_message (about no message of ours), foreign_number (about another number), "
    "foreign_recipient (a bounce about another address than its message went to), "
    "unproven_sender (an e-mail whose From address its receiving server did not prove).",
    ["channel", "reason"],
    registry=REGISTRY,
)

# --- Outreach (scheduler: strategies' messages) -----------------------------

OUTREACH_MESSAGES = Counter(
    "cobrador_outreach_messages_total",
    "Strategy messages by what became of the send (sent = the channel took it, failed = "
    "refused, uncertain = no answer; never sent again).",
    ["campaign", "channel", "result"],
    registry=REGISTRY,
)
OUTREACH_BLOCKS = Counter(
    "cobrador_outreach_blocks_total",
    "Reasons strategy messages were not sent at the final check (a message with two "
    "reasons counts twice; a message waiting for its window counts each time it is tried).",
    ["campaign", "channel", "reason"],
    registry=REGISTRY,
)
OUTREACH_HANDOFFS = Counter(
    "cobrador_outreach_call_handoffs_total",
    "Strategy call steps: accounts handed to their campaign's hopper.",
    ["campaign"],
    registry=REGISTRY,
)
OUTREACH_STAGE_CHANGES = Counter(
    "cobrador_outreach_stage_changes_total",
    "Accounts a strategy moved to a later stage (never legal).",
    ["campaign", "outcome"],
    registry=REGISTRY,
)
OUTREACH_RESULTS = Gauge(
    "cobrador_outreach_results_messages",
    "Strategy messages of the last hour by result as their attempt rows say it (sent, "
    "delivered, read, replied, failed), read from SQL by the scheduler.",
    ["campaign", "channel", "result"],
    registry=REGISTRY,
)
OUTREACH_DELIVERY_FAILURES = Gauge(
    "cobrador_outreach_delivery_failure_ratio",
    "Failed / (sent + delivered + read + replied + failed) strategy messages of the last hour.",
    ["campaign", "channel"],
    registry=REGISTRY,
)

# --- Field visits (field/, console/field_views.py) --------------------------

FIELD_VISITS = Counter(
    "cobrador_field_visits_total",
    "Field visits ended, by the debtor's country and the visit's outcome (the call "
    "disposition codes, domicilio_incorrecto, or skipped when the agent could not go).",
    ["country", "outcome"],
    registry=REGISTRY,
)
FIELD_CHECKINS_REFUSED = Counter(
    "cobrador_field_checkins_refused_total",
    "Field check-ins refused: too_far or inaccurate (the GPS fix), clock_unsure, other_day, "
    "no_coordinates or timezone_unknown (the account changed since the plan), or the "
    "compliance reason code that refused the visit at the door.",
    ["country", "reason"],
    registry=REGISTRY,
)
FIELD_LOCAL_HOUR_VISITS = Counter(
    "cobrador_field_local_hour_visits_total",
    "Field visits made (checked in and ended), by the debtor's local hour (00..23) and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)
FIELD_LOCAL_HOUR_CONTACTS = Counter(
    "cobrador_field_local_hour_contacts_total",
    "Field visits where someone came to the door, by the debtor's local hour and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)
FIELD_LOCAL_HOUR_RIGHT_PARTY = Counter(
    "cobrador_field_local_hour_right_party_contacts_total",
    "Field visits that met the debtor or a guarantor, by the debtor's local hour and region.",
    ["country", "region", "hour"],
    registry=REGISTRY,
)
FIELD_ON_SHIFT_AGENTS = Gauge(
    "cobrador_field_on_shift_agents",
    "Field agents with a shift open (read from SQL by every console; aggregate with max).",
    [],
    registry=REGISTRY,
)
PAYMENT_NOTIFICATIONS = Counter(
    "cobrador_payment_notifications_total",
    "Mercado Pago's payment notifications by outcome: recorded, reversed, replay, pending, "
    "ignored, or refused as bad_signature, stale, malformed, too_large, unknown_payment, "
    "unavailable.",
    ["outcome"],
    registry=REGISTRY,
)
