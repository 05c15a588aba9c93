"""Every error Junban reports to a client: the classes, and the one catalogue of codes.

    JunbanError (500, close 1011)             internal_error
    ├── BadRequest (400, close 4400)          bad_request
    ├── Unauthorized (401, close 4401)        unauthorized
    ├── Forbidden (403, close 4403)           forbidden
    ├── NotFound (404, close 4404)            not_found
    ├── Conflict (409, close 4409)            conflict
    ├── PayloadTooLarge (413, close 1009)     body_too_large
    ├── UnsupportedMediaType (415, close 4400) unsupported_media_type
    ├── Unprocessable (422, close 4400)       invalid_body
    ├── RateLimited (429, close 4429)         rate_limited
    ├── LoginThrottled (429, close 4429)      login_throttled (in hub/accounts.py)
    └── Unavailable (503, close 1013)         unavailable

Each class carries an HTTP status, a WebSocket close code and a default code; a raise site
names a more precise code (``NotFound("no such queue", code="unknown_queue")``). Domain
rules raise these directly (``hub/queue/rules.py`` raises ``Conflict(..., code="queue_empty")``,
``hub/contracts/lifecycle.py`` ``Conflict(..., code="illegal_transition")``), so the HTTP and
WebSocket edges only translate, never decide.

``ERROR_CODES`` lists every code the hub answers with, ``CLOSE_CODES`` every WebSocket close
code; ``docs/api.md``'s tables are generated from them (``python -m hub.apidocs``), and
``tests/test_error_catalogue.py`` checks them against every raise site, the tree above and
the close codes of ``clients/js/junban.js``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, ClassVar, NamedTuple


class Close(IntEnum):
    """WebSocket close codes: the one list (``hub/channels/protocol.py`` uses these)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    ABNORMAL = 1006
    INVALID_DATA = 1007
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    DEAD_LINK = 4000
    MALFORMED = 4400
    BAD_TOKEN = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    TOO_SLOW = 4408
    CONFLICT = 4409
    RATE_LIMITED = 4429


class CloseCode(NamedTuple):
    """Who closes a WebSocket with a code, and what it means for the client."""

    sent_by: str
    """``hub``, ``uvicorn`` (its WebSocket protocol, under the hub), ``client`` (junban.js
    closes its own socket) or ``reserved`` (an error class's close code that no connection
    is closed with today); ``hub, uvicorn`` for both."""
    meaning: str


CLOSE_CODES: Mapping[Close, CloseCode] = {
    Close.NORMAL: CloseCode("client", "the client closed its socket (closed, or token removed)"),
    Close.GOING_AWAY: CloseCode(
        "hub", "idle: no subscription for `JUNBAN_WS_IDLE` s; reconnect on the next subscribe"
    ),
    Close.PROTOCOL_ERROR: CloseCode("uvicorn", "a frame broke the WebSocket protocol"),
    Close.ABNORMAL: CloseCode(
        "client", "never on the wire: the browser's report of a connection lost without a close"
    ),
    Close.INVALID_DATA: CloseCode("uvicorn", "a text frame that is not UTF-8"),
    Close.TOO_BIG: CloseCode("uvicorn", "an inbound frame over 64 KiB"),
    Close.INTERNAL_ERROR: CloseCode("reserved", "an unexpected error (`internal_error`)"),
    Close.SERVICE_RESTART: CloseCode(
        "hub, uvicorn",
        "the hub is shutting down (SIGTERM), or a token's revocation could not be checked: "
        "reconnect, elsewhere or a little later",
    ),
    Close.TRY_AGAIN_LATER: CloseCode("reserved", "a service is unavailable (`Unavailable`)"),
    Close.DEAD_LINK: CloseCode(
        "client", "junban.js: no frame within the ping deadline, or still connecting after 10 s"
    ),
    Close.MALFORMED: CloseCode(
        "hub", "malformed frame: not JSON/msgpack, unknown `op`, wrong types (a client bug)"
    ),
    Close.BAD_TOKEN: CloseCode(
        "hub",
        "bad, expired or revoked token; the reason is the error code "
        "(`invalid_token`, `token_expired`, `token_revoked`)",
    ),
    Close.FORBIDDEN: CloseCode(
        "reserved",
        "forbidden (`Forbidden`); the hub answers a forbidden channel with an `error` frame "
        "instead, junban.js waits long on it",
    ),
    Close.NOT_FOUND: CloseCode("reserved", "not found (`NotFound`)"),
    Close.TOO_SLOW: CloseCode(
        "hub", "too slow to keep up: the socket stayed full `JUNBAN_WS_SLOW` s"
    ),
    Close.CONFLICT: CloseCode("reserved", "a conflict (`Conflict`)"),
    Close.RATE_LIMITED: CloseCode(
        "hub",
        "rate limited: too many frames, or too many connections from one address "
        "(`JUNBAN_WS_MAX_PER_IP`) or with one token (`JUNBAN_WS_MAX_PER_TOKEN`)",
    ),
}


class ErrorCode(NamedTuple):
    """One error code: the HTTP status it comes with, and what it means."""

    status: int | None
    """The HTTP status; None where there is no one status: a code sent only in a WebSocket
    ``error`` frame, or ``http_error`` (the framework's own status)."""
    meaning: str
    also: tuple[int, ...] = ()
    """Other statuses a few routes answer this code with."""


ERROR_CODES: Mapping[str, ErrorCode] = {
    # 400: the request itself is malformed
    "bad_request": ErrorCode(400, "a malformed request (e.g. an `Idempotency-Key` over 200)"),
    "bad_json": ErrorCode(400, "the body is missing or not valid JSON"),
    "json_too_deep": ErrorCode(400, "the JSON nests deeper than 32 levels"),
    "invalid_info": ErrorCode(400, "an information number is not like `1234-01`"),
    "invalid_facility": ErrorCode(
        400, "a facility number is not 1 to 8 digits (422 in a contract body)", (422,)
    ),
    "invalid_query": ErrorCode(400, "a query parameter is malformed"),
    "invalid_code": ErrorCode(400, "a monitor pairing code is not 8 digits"),
    "invalid_patient_ref": ErrorCode(
        400, "a patient-card number (`patient_ref`) is not 1 to 20 letters, digits or '-'"
    ),
    "invalid_phone": ErrorCode(400, "a phone number to call is not a valid Japanese number"),
    "bad_endpoint_url": ErrorCode(
        400, "an integration endpoint URL is not https or points at a refused address"
    ),
    # 401: no fitting token
    "unauthorized": ErrorCode(
        401, "this needs a (staff, operator, login or ticket) token; also a channel `error`"
    ),
    "invalid_token": ErrorCode(401, "the token is forged or malformed; WebSocket: close 4401"),
    "token_expired": ErrorCode(401, "the token has expired; WebSocket: close 4401"),
    "token_revoked": ErrorCode(
        401, "the account's tokens were revoked or its password changed; WebSocket: close 4401"
    ),
    "invalid_credentials": ErrorCode(401, "wrong user name or password"),
    # 403: a token that may not
    "forbidden": ErrorCode(403, "this token may not do that; also a channel `error`"),
    "cross_origin": ErrorCode(403, "a state-changing request from another site's page"),
    "no_account": ErrorCode(403, "the token belongs to no user account: log in with one"),
    "password_change_required": ErrorCode(
        403, "logged in with a temporary password: change it first (`POST /v1/auth/password`)"
    ),
    "facility_suspended": ErrorCode(403, "the facility's service is suspended (Art. 12)"),
    "check_in_on_site": ErrorCode(403, "this counter takes bookings' check-ins at the desk only"),
    "option_not_contracted": ErrorCode(
        403, "the facility has not contracted the option (API, EMR link) this needs"
    ),
    "bad_signature": ErrorCode(
        403,
        "a provider callback is unsigned, forged or names no call of that provider; "
        "a LINE webhook's `X-Line-Signature` does not match",
    ),
    "insufficient_scope": ErrorCode(403, "the partner API key lacks the scope this route needs"),
    # 404: no such thing
    "not_found": ErrorCode(404, "no such route or action"),
    "unknown_queue": ErrorCode(404, "no such queue (information number)"),
    "unknown_ticket": ErrorCode(404, "no such ticket in today's queue"),
    "bookings_off": ErrorCode(404, "this counter takes no time-band bookings"),
    "unknown_band": ErrorCode(404, "no such booking band on that date"),
    "unknown_booking": ErrorCode(404, "no such booking"),
    "unknown_endpoint": ErrorCode(404, "no such integration endpoint at this facility"),
    "unknown_api_key": ErrorCode(404, "no such partner API key at this facility"),
    "unknown_facility": ErrorCode(404, "no such facility"),
    "push_disabled": ErrorCode(404, "Web Push is off on this hub (no `JUNBAN_VAPID_SUBJECT`)"),
    "unknown_line_account": ErrorCode(404, "no such LINE account on this hub (`operator`)"),
    "channel_unavailable": ErrorCode(
        404, "that notification channel (webpush, email, line) is not set up on this hub"
    ),
    "unknown_dead_letter": ErrorCode(404, "no such dead letter in the facility's outbox"),
    "unknown_user": ErrorCode(404, "no such user"),
    "unknown_contract": ErrorCode(404, "no such contract"),
    "unknown_notice": ErrorCode(404, "no such interruption on this contract"),
    "unknown_incident": ErrorCode(404, "no such incident on this contract"),
    "unknown_pairing_code": ErrorCode(404, "the pairing code is wrong, used or expired"),
    "recovery_failed": ErrorCode(
        404, "recover: no waiting or called ticket today with that number and phone"
    ),
    # 405
    "method_not_allowed": ErrorCode(405, "the path exists, the method does not"),
    # 408, 431: the request head itself (hub/web/httpprotocol.py); the connection is closed
    "header_timeout": ErrorCode(408, "the request head took over `JUNBAN_HEADER_TIMEOUT` s"),
    "header_too_large": ErrorCode(431, "request line and headers over `JUNBAN_MAX_HEADER` bytes"),
    # 409: the current state does not allow it
    "conflict": ErrorCode(409, "the state does not allow it (`Conflict` with no finer code)"),
    "reception_closed": ErrorCode(409, "reception of this queue is closed"),
    "web_closed": ErrorCode(409, "web acceptance of this queue is closed"),
    "daily_cap_reached": ErrorCode(409, "today's web tickets are all taken"),
    "queue_empty": ErrorCode(409, "call-next: nobody is waiting"),
    "duplicate_ticket": ErrorCode(409, "that ticket id is already taken"),
    "band_full": ErrorCode(409, "every place of that booking band is taken"),
    "band_closed": ErrorCode(
        409, "the band takes no booking or cancellation now (started, past, closed day)"
    ),
    "outside_horizon": ErrorCode(409, "bookings are taken only `horizon_days` ahead"),
    "duplicate_booking": ErrorCode(409, "that booking id is already taken"),
    "too_early": ErrorCode(409, "check-in opens `early_min` before the band (`opens_at`)"),
    "no_show": ErrorCode(409, "the booking's time is over (band end + `late_min`): take a ticket"),
    "checkin_not_allowed": ErrorCode(409, "this queue does not take patients' check-ins"),
    "postpone_not_allowed": ErrorCode(409, "this queue does not let patients move back"),
    "postpone_limit_reached": ErrorCode(409, "the ticket was moved back twice already"),
    "already_last": ErrorCode(409, "postpone: nobody waits behind this ticket"),
    "ticket_not_waiting": ErrorCode(409, "check-in and postpone need a waiting ticket"),
    "ticket_finished": ErrorCode(
        409, "notifications need a ticket still waiting or called (not done, cancelled, moved)"
    ),
    "illegal_transition": ErrorCode(
        409, "a ticket or contract in this status cannot take that action"
    ),
    "facility_exists": ErrorCode(409, "that facility number is already assigned"),
    "too_many_api_keys": ErrorCode(409, "the facility holds 20 partner API keys: revoke one"),
    "counter_busy": ErrorCode(409, "a counter with tickets waiting or called cannot be removed"),
    "user_exists": ErrorCode(409, "that user name is taken"),
    "last_admin": ErrorCode(409, "a facility keeps at least one clinic admin"),
    "own_account": ErrorCode(409, "a clinic admin may not remove or demote themselves"),
    "version_conflict": ErrorCode(409, "the contract changed meanwhile: reload and retry"),
    "not_started": ErrorCode(409, "the contract has not started"),
    "not_in_force": ErrorCode(409, "the contract is not in force on that day"),
    "not_contracted": ErrorCode(409, "that item is not (or no longer) contracted"),
    "already_objected": ErrorCode(409, "the renewal was already objected to"),
    "recovery_expected": ErrorCode(
        409, "the interruption has an expected end: cancel under Art. 16-1"
    ),
    "already_claimed": ErrorCode(409, "this incident's refund was claimed already"),
    "no_emr_endpoint": ErrorCode(409, "EMR lookup: the facility has no enabled ORCA/FHIR endpoint"),
    "no_consent": ErrorCode(409, "phone call: the patient gave no consent to be called"),
    "outside_call_hours": ErrorCode(409, "phone call: outside the facility's call window"),
    "call_limit_reached": ErrorCode(
        409, "phone call: 2 in progress, the day's or month's cap, or 3 to this ticket"
    ),
    "not_refundable": ErrorCode(409, "no refund for this outage (Art. 24-4, 32-2)"),
    # 413
    "body_too_large": ErrorCode(413, "the body is over `JUNBAN_MAX_BODY` bytes"),
    "unsupported_media_type": ErrorCode(415, "a body that is not `application/json`"),
    # 422: well-formed, but the values do not fit
    "invalid_body": ErrorCode(422, "the body's fields do not fit the route's schema or rules"),
    "invalid_bands": ErrorCode(
        422, "booking bands overlap, are under 10 min, leave the service hours, or bad settings"
    ),
    "invalid_email": ErrorCode(422, "an e-mail address is not like `name@example.jp`"),
    "invalid_annotation": ErrorCode(
        422, "an annotation key is not like `emr.status` or its value is over 200 characters"
    ),
    "idempotency_key_reused": ErrorCode(
        422, "this `Idempotency-Key` was used for a different request"
    ),
    "weak_password": ErrorCode(
        422, "a password is 8 to 200 characters, not the user name, not the old one"
    ),
    "invalid_contract": ErrorCode(422, "an application's items, options, term or part do not fit"),
    "option_needs_reservation": ErrorCode(422, "options need the reservation service (Table 1)"),
    "invalid_fee": ErrorCode(422, "fees are whole yen and price exactly what is contracted"),
    "invalid_counter": ErrorCode(422, "counter numbers are distinct and two digits"),
    "invalid_reason": ErrorCode(422, "a refusal or suspension reason is not one of the terms'"),
    "invalid_date": ErrorCode(422, "a date or time is out of range, in the wrong order or naive"),
    "invalid_endpoint_config": ErrorCode(422, "an endpoint's kind-specific `config` does not fit"),
    "invalid_month": ErrorCode(422, "an invoice month is not like `2026-11`"),
    "invalid_amount": ErrorCode(422, "an amount of money is negative"),
    "notice_required": ErrorCode(422, "an interruption is announced before it starts (Art. 13-2)"),
    "notice_too_short": ErrorCode(422, "a discontinuation is announced 2 months ahead (Art. 14-2)"),
    "claim_too_late": ErrorCode(422, "a refund is claimed within a month of recovery (Art. 32-1)"),
    # 429
    "login_throttled": ErrorCode(
        429, "failed logins from this address: wait `Retry-After` s (growing); never a lock"
    ),
    "rate_limited": ErrorCode(429, "too many requests (`Retry-After` says when to retry)"),
    "too_many_connections": ErrorCode(
        429,
        "SSE: this address (`JUNBAN_SSE_MAX_PER_IP`) or token (`JUNBAN_SSE_MAX_PER_TOKEN`) "
        "holds as many streams as it may (`Retry-After`); WebSocket: close 4429",
    ),
    # 5xx
    "internal_error": ErrorCode(500, "an unexpected error (a bug): retry later"),
    "http_error": ErrorCode(None, "another HTTP error of the framework, with its own 4xx status"),
    "outside_service_hours": ErrorCode(503, "tickets are taken within the server hours only"),
    "replay_failed": ErrorCode(503, "a dead letter's group failed on it again (it is kept)"),
    "busy": ErrorCode(503, "contention (a queue, a contract, a number to allocate): retry"),
    "redis_unavailable": ErrorCode(503, "storage is unreachable: retry"),
    "history_incomplete": ErrorCode(503, "this queue's stored history is incomplete"),
    "unavailable": ErrorCode(503, "a service is not running (e.g. live channels)"),
    "emr_unavailable": ErrorCode(503, "the EMR did not answer, was busy or refused the lookup"),
    # WebSocket only (an `error` frame for one channel)
    "unknown_channel": ErrorCode(None, "WebSocket: no such channel name"),
    "too_many_subscriptions": ErrorCode(
        None, "WebSocket: `JUNBAN_WS_MAX_SUBS` reached: unsubscribe first"
    ),
}


class JunbanError(Exception):
    """A client-visible error: a stable ``code``, a human ``message``, a status and close code."""

    status: ClassVar[int] = 500
    close_code: ClassVar[int] = Close.INTERNAL_ERROR
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, **self.extra}
        return {"error": error}


class BadRequest(JunbanError):
    status, close_code, default_code = 400, Close.MALFORMED, "bad_request"


class Unauthorized(JunbanError):
    status, close_code, default_code = 401, Close.BAD_TOKEN, "unauthorized"


class Forbidden(JunbanError):
    status, close_code, default_code = 403, Close.FORBIDDEN, "forbidden"


class NotFound(JunbanError):
    status, close_code, default_code = 404, Close.NOT_FOUND, "not_found"


class Conflict(JunbanError):
    status, close_code, default_code = 409, Close.CONFLICT, "conflict"


class PayloadTooLarge(JunbanError):
    status, close_code, default_code = 413, Close.TOO_BIG, "body_too_large"


class UnsupportedMediaType(JunbanError):
    status, close_code, default_code = 415, Close.MALFORMED, "unsupported_media_type"


class Unprocessable(JunbanError):
    status, close_code, default_code = 422, Close.MALFORMED, "invalid_body"


class RateLimited(JunbanError):
    status, close_code, default_code = 429, Close.RATE_LIMITED, "rate_limited"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(JunbanError):
    status, close_code, default_code = 503, Close.TRY_AGAIN_LATER, "unavailable"
