"""The metric families the service counts into. Nothing here imports the app, so delivery,
verification and the web layer all count into the same objects without importing each other.

Names follow the Prometheus conventions: a unit suffix in base units (`_seconds`), `_total`
on counters (prometheus_client adds it to the exposed name; it is written out here so that a
search for the exposed name finds its definition). Every family is labelled, so no sample
exists before the first count: see app/metrics/worker.py for why that matters to the worker.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "otp_http_requests_total",
    "HTTP requests answered, by route template (or 'unmatched'), method and status code.",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "otp_http_request_duration_seconds",
    "Time from the start of a request's handling to its response, by route template and method.",
    ["endpoint", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
VERIFICATIONS = Counter(
    "otp_verifications_total",
    "Verification lifecycle events: created, resent, approved, failed (delivery failed or "
    "attempts used up), cancelled.",
    ["event"],
)
SENDS = Counter(
    "otp_sends_total",
    "Send attempts, one per step of a route plan tried, by provider, destination country, "
    "channel and outcome (sent: accepted by the provider; failed; skipped: a half-open "
    "breaker's probe was in flight; error: the adapter raised).",
    ["provider", "country", "channel", "outcome"],
)
OWN_NUMBERS = Counter(
    "otp_own_numbers_sends_total",
    "Messages accepted by a provider on the tenant's own numbers route, by provider, "
    "destination country and channel.",
    ["provider", "country", "channel"],
)
NO_ROUTE = Counter(
    "otp_no_route_refusals_total",
    "Sends refused with no_route (no scheduling resource available and own numbers off), "
    "by destination country and channel.",
    ["country", "channel"],
)
VERIFY_OUTCOMES = Counter(
    "otp_verify_outcomes_total",
    "Code checks by result: approved, invalid_code, too_many_attempts, not_found.",
    ["outcome"],
)
APPROVALS = Counter(
    "otp_approvals_total",
    "Approved verifications, by the provider, destination country and channel of the last "
    "send a provider accepted (divide by otp_sends_total{outcome='sent'} for conversion).",
    ["provider", "country", "channel"],
)
PROVIDER_DURATION = Histogram(
    "otp_provider_send_duration_seconds",
    "Time one provider call took, for calls that reached the provider (sent or failed).",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GUARD_BLOCKS = Counter(
    "otp_guard_blocks_total",
    "Blocks the fraud guard placed, by scope (prefix, country, ip) and mode (enforce; "
    "monitor: recorded, nothing refused).",
    ["scope", "mode"],
)
GUARD_UNBLOCKS = Counter(
    "otp_guard_unblocks_total",
    "Fraud-guard blocks lifted before their end, by scope and by whom (api, cli).",
    ["scope", "by"],
)
GUARD_REFUSALS = Counter(
    "otp_guard_refusals_total",
    "Requests the fraud guard refused, by reason (prefix, country, ip; always: the bot check "
    "asked of every request) and answer (fraud_blocked, challenge_required).",
    ["reason", "code"],
)
GUARD_SUSPECT = Counter(
    "otp_guard_suspect_total",
    "Sends let through in monitor mode that enforce mode would have refused, by reason.",
    ["reason"],
)
BOT_CHECKS = Counter(
    "otp_bot_checks_total",
    "Bot-check tokens judged, by provider and result (passed, missing, invalid, low_score, "
    "unreachable; unreachable_open: let through by on_error: open).",
    ["provider", "result"],
)
