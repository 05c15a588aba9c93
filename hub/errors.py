"""Every error Junban reports to a client, with its stable code.

    JunbanError                    code, message, HTTP status, WebSocket close code
    ├── BadRequest (400)           bad_json, invalid_info, bad_request
    ├── Unauthorized (401)         unauthorized, token_expired, invalid_credentials
    ├── Forbidden (403)            forbidden, facility_suspended
    ├── NotFound (404)             not_found, unknown_queue, unknown_facility, unknown_ticket
    ├── Conflict (409)             reception_closed, web_closed, daily_cap_reached, queue_empty,
    │                              illegal_transition, idempotency_key_reused
    ├── PayloadTooLarge (413)      body_too_large
    ├── Unprocessable (422)        invalid_body
    ├── RateLimited (429)          rate_limited
    └── Unavailable (503)          outside_service_hours, busy, redis_unavailable

Domain rules raise these directly (``rules.Rejected`` is a ``Conflict``/``Forbidden``
etc. carrying its code), so the HTTP and WebSocket edges only translate, never decide.
"""

from __future__ import annotations

from typing import Any, ClassVar


class JunbanError(Exception):
    """A client-visible error: a stable ``code``, a human ``message``, a status and close code."""

    status: ClassVar[int] = 500
    close_code: ClassVar[int] = 1011
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
    status, close_code, default_code = 400, 4400, "bad_request"


class Unauthorized(JunbanError):
    status, close_code, default_code = 401, 4401, "unauthorized"


class Forbidden(JunbanError):
    status, close_code, default_code = 403, 4403, "forbidden"


class NotFound(JunbanError):
    status, close_code, default_code = 404, 4404, "not_found"


class Conflict(JunbanError):
    status, close_code, default_code = 409, 4409, "conflict"


class PayloadTooLarge(JunbanError):
    status, close_code, default_code = 413, 1009, "body_too_large"


class Unprocessable(JunbanError):
    status, close_code, default_code = 422, 4400, "invalid_body"


class RateLimited(JunbanError):
    status, close_code, default_code = 429, 4429, "rate_limited"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(JunbanError):
    status, close_code, default_code = 503, 1013, "unavailable"
