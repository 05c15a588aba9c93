"""Prometheus metrics of the hub (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

COMMANDS = Counter("junban_commands_total", "Queue commands handled", ["command", "outcome"])
CONFLICTS = Counter(
    "junban_append_conflicts_total", "Appends refused by the version check (then retried)"
)
APPENDS = Counter("junban_appends_total", "Lua append calls", ["outcome"])
BATCH_SIZE = Histogram(
    "junban_batch_commands",
    "Commands decided together in one group-commit append",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
COMMAND_SECONDS = Histogram(
    "junban_command_seconds",
    "Time from a command's submission to its answer",
    ["command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RATE_LIMITED = Counter("junban_rate_limited_total", "Requests refused by a rate limit", ["scope"])
WS_CLOSES = Counter("junban_ws_closes_total", "WebSocket connections the hub closed", ["code"])
AUDIT_FAILURES = Counter(
    "junban_audit_failures_total", "Audit entries that could not be written (logged instead)"
)
FACILITY_LIMITED = Counter(
    "junban_facility_rate_limited_total",
    "Web tickets refused by a rate limit at a facility with an operator-set limit (Art. 37); "
    "only such facilities get a label",
    ["facility"],
)
LOGIN_FAILURES = Counter("junban_login_failures_total", "Failed logins", ["outcome"])
