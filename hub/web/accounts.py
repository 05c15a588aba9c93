"""HTTP routes of accounts (Art. 33) and the audit log: login under a throttle, password change,
revocation ("credentials stolen"), and reading/exporting the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub import csvout
from hub.accounts import Caller
from hub.audit import PAGE_MAX, to_csv
from hub.auth import Principal
from hub.errors import BadRequest, Forbidden
from hub.queue.model import FACILITY_RE
from hub.users import PASSWORD_MAX
from hub.web.bodies import LoginRequest, parse, read_limited
from hub.web.routing import ApiRoute, client_ip, json_response, principal_of, services_of

Password = Annotated[str, msgspec.Meta(min_length=1, max_length=PASSWORD_MAX)]


class PasswordRequest(msgspec.Struct, kw_only=True):
    """Change one's own password: the current one and the new one (8 to 200 characters)."""

    old: Password
    new: Password


async def login(request: Request) -> Response:
    """A login token; 401 for a wrong name or password (the same either way), 429
    ``login_throttled`` while this address waits after ``JUNBAN_LOGIN_THROTTLE`` failures
    on the name (growing waits; a success ends them)."""
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), LoginRequest)
    return json_response(await services.accounts.login(body.user, body.password, _caller(request)))


def _caller(request: Request) -> Caller:
    return Caller(ip=client_ip(request), user_agent=request.headers.get("user-agent", ""))


def _account(request: Request) -> Principal:
    principal = principal_of(request)
    assert principal is not None  # the route's "account" access checked it
    return principal


async def change_password(request: Request) -> Response:
    """Change one's own password (a wrong ``old`` counts as a failed login from this
    address): every older token of the account stops working and the answer carries a
    fresh one."""
    name = _account(request).subject
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), PasswordRequest)
    changed = await services.accounts.change_password(name, body.old, body.new, _caller(request))
    return json_response(changed)


async def revoke_own(request: Request) -> Response:
    """ "My credentials were stolen": every token of my account stops working, this one too."""
    name = _account(request).subject
    version = await services_of(request).accounts.revoke(name)
    return json_response({"user": name, "revoked": True, "token_version": version})


async def revoke_user(request: Request) -> Response:
    """The operator revokes every token of a user (the password stays; change it too)."""
    name: str = request.path_params["user"]
    version = await services_of(request).accounts.revoke_user(name)
    return json_response({"user": name, "revoked": True, "token_version": version})


# ---- the audit log ------------------------------------------------------------------------

CSV_DEFAULT, CSV_MAX = 10_000, 100_000


def _since_ms(text: str | None) -> int | None:
    """Epoch milliseconds, or an ISO 8601 date or date-time (without an offset: UTC)."""
    if text is None or text == "":
        return None
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(
            "since is epoch milliseconds or an ISO 8601 date/time, e.g. 2026-11-25T09:00:00+09:00",
            code="invalid_query",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(moment.timestamp() * 1000))


def _int_param(request: Request, name: str, default: int, top: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= top:
        raise BadRequest(f"{name} is a whole number from 1 to {top}", code="invalid_query")
    return int(text)


def _log_of(request: Request) -> str | None:
    """The facility whose log is read (None: the operator's): staff read their own
    facility's log, the operator any log, or without ``facility`` the operator's."""
    principal = principal_of(request)
    assert principal is not None  # the route's "staff-any" access checked it
    facility = request.query_params.get("facility") or None
    if facility is not None and not FACILITY_RE.match(facility):
        raise BadRequest("a facility number is 1 to 8 digits", code="invalid_facility")
    if principal.role == "staff" and principal.facility is not None:
        facility = facility or principal.facility
    if principal.role != "operator" and (facility is None or not principal.is_staff_of(facility)):
        raise Forbidden("staff may read their own facility's audit log only", code="forbidden")
    return facility


_ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}\Z")
_U64_MAX = 2**64 - 1


async def audit_log(request: Request) -> Response:
    """Audit entries oldest first: ``?facility=&since=&after=&limit=&format=json|csv``."""
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format is json or csv", code="invalid_query")
    if fmt == "csv":
        return await audit_csv(request)
    facility = _log_of(request)
    limit = _int_param(request, "limit", 100, PAGE_MAX)
    since = _since_ms(request.query_params.get("since"))
    after = _after(request)
    entries = await services_of(request).audit.read(
        facility, since_ms=since, after=after, limit=limit
    )
    next_after = entries[-1]["id"] if len(entries) == limit else None
    return json_response({"facility": facility, "entries": entries, "next": next_after})


def _after(request: Request) -> str | None:
    """``after``: a stream entry id whose two parts are at most 2^64-1 (Redis' range), and
    not the last possible id (nothing can follow it); else 400 ``invalid_query``, never a
    Redis error."""
    after = request.query_params.get("after") or None
    if after is not None and not (_ENTRY_ID.match(after) and _below_last_id(after)):
        raise BadRequest("after is an entry id such as 1764000000000-0", code="invalid_query")
    return after


def _below_last_id(entry_id: str) -> bool:
    ms, seq = (int(part) for part in entry_id.split("-"))
    return ms <= _U64_MAX and seq <= _U64_MAX and (ms, seq) != (_U64_MAX, _U64_MAX)


async def audit_csv(request: Request) -> Response:
    """The same entries as CSV (``?facility=&since=&limit=``, up to 100,000 rows)."""
    facility = _log_of(request)
    limit = _int_param(request, "limit", CSV_DEFAULT, CSV_MAX)
    since = _since_ms(request.query_params.get("since"))
    after = _after(request)
    audit = services_of(request).audit
    entries = await audit.read_all(facility, since_ms=since, after=after, limit=limit)
    name = f"audit-{facility or 'operator'}.csv"
    return Response(
        (csvout.BOM + to_csv(entries)).encode(),
        media_type=csvout.MEDIA_TYPE,
        headers={"Content-Disposition": csvout.disposition(name)},
    )


ERR_AUTH = {401: "no, bad or revoked token", 403: "not allowed | no_account"}
ERR_QUERY = {400: "invalid_query | invalid_facility", **ERR_AUTH}
ROUTES = [
    ApiRoute(
        "/v1/auth/login",
        "POST",
        login,
        "Log in with user and password → token (after 3 failures from one address, growing waits)",
        access="public",
        body=LoginRequest,
        body_required=True,
        responses={
            200: "{token, role, facility, expires_in}",
            401: "invalid_credentials",
            422: "invalid_body",
            429: "login_throttled | rate_limited (Retry-After)",
        },
    ),
    ApiRoute(
        "/v1/auth/password",
        "POST",
        change_password,
        "Change one's own password {old, new}; older tokens stop working, a new one is returned",
        access="account",
        body=PasswordRequest,
        body_required=True,
        responses={
            200: "{user, changed, token, ...}",
            401: "invalid_credentials | token_revoked",
            403: "no_account",
            422: "weak_password | invalid_body",
            429: "login_throttled (Retry-After)",
        },
    ),
    ApiRoute(
        "/v1/auth/revoke",
        "POST",
        revoke_own,
        "Credentials stolen: revoke every token of one's own account (this one too)",
        access="account",
        responses={200: "{user, revoked, token_version}", **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/users/{user}/revoke",
        "POST",
        revoke_user,
        "Revoke every token of a user (Art. 33); open WebSockets close with 4401",
        access="operator",
        responses={200: "{user, revoked, token_version}", 404: "unknown_user", **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/audit",
        "GET",
        audit_log,
        "Audit log: ?facility=&since=&after=&limit=&format=json|csv (staff: own facility)",
        access="staff-any",
        responses={200: "{facility, entries, next}", **ERR_QUERY},
    ),
    ApiRoute(
        "/v1/admin/audit.csv",
        "GET",
        audit_csv,
        "Audit log as CSV: ?facility=&since=&limit= (staff: own facility)",
        access="staff-any",
        responses={200: "text/csv", **ERR_QUERY},
    ),
]
