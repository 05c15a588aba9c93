"""HTTP routes of accounts (Art. 33) and the audit log: login with lockout, password change,
revocation ("credentials stolen"), and reading/exporting the audit log."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub import keys, metrics
from hub.accounts import PASSWORD_MAX, AccountLocked, User, check_password_policy
from hub.audit import AuditEntry, to_csv
from hub.auth import Principal, require_operator
from hub.errors import BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable
from hub.queue.model import FACILITY_RE
from hub.web.bodies import LoginRequest, parse, read_limited
from hub.web.routing import ApiRoute, client_ip, hub_of, json_response, principal_of

Password = Annotated[str, msgspec.Meta(min_length=1, max_length=PASSWORD_MAX)]


class PasswordRequest(msgspec.Struct, kw_only=True):
    """Change one's own password: the current one and the new one (8 to 200 characters)."""

    old: Password
    new: Password


def _event(
    request: Request, who: str, role: str, status: int, outcome: str, facility: str = ""
) -> AuditEntry:
    """An account event for the audit log (login routes have no principal to wrap)."""
    return AuditEntry(
        who=who,
        role=role,
        action="POST /v1/auth/login",
        status=status,
        outcome=outcome,
        facility=facility,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        at=time.time(),
    )


async def _issue(request: Request, user: User) -> dict[str, object]:
    hub = hub_of(request)
    version = (await hub.versions.many([user.name]))[user.name]
    ttl = hub.settings.token_ttl_s
    token = hub.tokens.issue(
        user.role, subject=user.name, facility=user.facility, ttl_s=ttl, version=version
    )
    return {"token": token, "role": user.role, "facility": user.facility, "expires_in": ttl}


async def login(request: Request) -> Response:
    """A login token; 401 for a wrong name or password (the same either way), 423 once a
    name has failed ``JUNBAN_LOGIN_LOCKOUT`` times (a success resets the count)."""
    hub = hub_of(request)
    body = parse(await read_limited(request, hub.settings.max_body_bytes), LoginRequest)
    await hub.limiter.hit([("login", client_ip(request), (10, 60.0))])
    try:
        attempt = await hub.login_guard.reserve(body.user)
    except AccountLocked:
        metrics.LOGIN_FAILURES.labels("locked").inc()
        await hub.audit.append(_event(request, body.user, "", 423, "account_locked"))
        raise
    user = await hub.users.authenticate(body.user, body.password)
    if user is None:
        metrics.LOGIN_FAILURES.labels("invalid").inc()
        locked = hub.login_guard.locks_at(attempt)
        outcome = "account_locked" if locked else "invalid_credentials"
        await hub.audit.append(_event(request, body.user, "", 423 if locked else 401, outcome))
        if locked:
            raise AccountLocked(retry_after=hub.login_guard.lock_s)
        raise Unauthorized("wrong user or password", code="invalid_credentials")
    await hub.login_guard.succeeded(user.name)
    answer = await _issue(request, user)
    facility = user.facility if user.role == "staff" and user.facility else ""
    await hub.audit.append(_event(request, user.name, user.role, 200, "ok", facility))
    return json_response(answer)


def _account_of(request: Request) -> Principal:
    """The caller's principal when it is a login token of an account (it has ``tv``)."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("a login token is required", code="unauthorized")
    if principal.token_version is None or principal.role not in ("staff", "operator"):
        raise Forbidden(
            "this token belongs to no user account (issued by the CLI or to a device); "
            "log in with a user and password",
            code="no_account",
        )
    return principal


async def change_password(request: Request) -> Response:
    """Change one's own password: every older token of the account stops working and the
    answer carries a fresh one."""
    principal = _account_of(request)
    hub = hub_of(request)
    body = parse(await read_limited(request, hub.settings.max_body_bytes), PasswordRequest)
    name = principal.subject
    attempt = await hub.login_guard.reserve(name)
    if await hub.users.authenticate(name, body.old) is None:
        if hub.login_guard.locks_at(attempt):
            raise AccountLocked(retry_after=hub.login_guard.lock_s)
        raise Unauthorized("the current password is wrong", code="invalid_credentials")
    await hub.login_guard.succeeded(name)
    check_password_policy(body.new, name)
    if body.new == body.old:
        raise Unprocessable("the new password is the old one", code="weak_password")
    user = await hub.users.set_password(name, body.new)
    if user is None:
        raise NotFound("no such user", code="unknown_user")
    await _revoke(request, name)
    return json_response({"user": name, "changed": True, **await _issue(request, user)})


async def _revoke(request: Request, user: str) -> int:
    hub = hub_of(request)
    version = await hub.versions.bump(user)
    if hub.live is not None:  # this process's sockets now; the others' within revoke_check_s
        hub.live.close_revoked({user: version})
    return version


async def revoke_own(request: Request) -> Response:
    """ "My credentials were stolen": every token of my account stops working, this one too."""
    principal = _account_of(request)
    version = await _revoke(request, principal.subject)
    return json_response({"user": principal.subject, "revoked": True, "token_version": version})


async def revoke_user(request: Request) -> Response:
    """The operator revokes every token of a user (the password stays; change it too)."""
    require_operator(principal_of(request))
    name: str = request.path_params["user"]
    if not 1 <= len(name) <= 100 or await hub_of(request).users.get(name) is None:
        raise NotFound("no such user", code="unknown_user")
    version = await _revoke(request, name)
    return json_response({"user": name, "revoked": True, "token_version": version})


# ---- the audit log ------------------------------------------------------------------------

PAGE_MAX = 1000
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


def _stream_of(request: Request) -> tuple[str, str | None]:
    """(stream key, facility): staff read their own facility's log, the operator any log,
    or without ``facility`` the operator stream."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("a staff or operator token is required", code="unauthorized")
    facility = request.query_params.get("facility") or None
    if facility is not None and not FACILITY_RE.match(facility):
        raise BadRequest("a facility number is 1 to 8 digits", code="invalid_facility")
    if principal.role == "staff" and principal.facility is not None:
        facility = facility or principal.facility
    if principal.role != "operator" and (facility is None or not principal.is_staff_of(facility)):
        raise Forbidden("staff may read their own facility's audit log only", code="forbidden")
    return (keys.OPERATOR_AUDIT if facility is None else keys.audit(facility)), facility


_ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}\Z")


async def audit_log(request: Request) -> Response:
    """Audit entries oldest first: ``?facility=&since=&after=&limit=&format=json|csv``."""
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format is json or csv", code="invalid_query")
    if fmt == "csv":
        return await audit_csv(request)
    stream, facility = _stream_of(request)
    limit = _int_param(request, "limit", 100, PAGE_MAX)
    since = _since_ms(request.query_params.get("since"))
    after = _after(request)
    entries = await hub_of(request).audit.read(stream, since_ms=since, after=after, limit=limit)
    next_after = entries[-1]["id"] if len(entries) == limit else None
    return json_response({"facility": facility, "entries": entries, "next": next_after})


def _after(request: Request) -> str | None:
    after = request.query_params.get("after") or None
    if after is not None and not _ENTRY_ID.match(after):
        raise BadRequest("after is an entry id such as 1764000000000-0", code="invalid_query")
    return after


async def audit_csv(request: Request) -> Response:
    """The same entries as CSV (``?facility=&since=&limit=``, up to 100,000 rows)."""
    stream, facility = _stream_of(request)
    limit = _int_param(request, "limit", CSV_DEFAULT, CSV_MAX)
    since = _since_ms(request.query_params.get("since"))
    after = _after(request)
    log = hub_of(request).audit
    entries: list[dict[str, str]] = []
    while len(entries) < limit:
        page = await log.read(
            stream, since_ms=since, after=after, limit=min(PAGE_MAX, limit - len(entries))
        )
        entries += page
        if len(page) < PAGE_MAX:
            break
        after = page[-1]["id"]
    name = f"audit-{facility or 'operator'}.csv"
    return Response(
        to_csv(entries).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ERR_AUTH = {401: "no, bad or revoked token", 403: "not allowed | no_account"}
ERR_QUERY = {400: "invalid_query | invalid_facility", **ERR_AUTH}
ROUTES = [
    ApiRoute(
        "/v1/auth/login",
        "POST",
        login,
        "Log in with user and password → token (5 failures lock the name for 15 min)",
        body=LoginRequest,
        body_required=True,
        responses={
            200: "{token, role, facility, expires_in}",
            401: "invalid_credentials",
            422: "invalid_body",
            423: "account_locked (Retry-After)",
            429: "rate_limited",
        },
    ),
    ApiRoute(
        "/v1/auth/password",
        "POST",
        change_password,
        "Change one's own password {old, new}; older tokens stop working, a new one is returned",
        auth="any",
        body=PasswordRequest,
        body_required=True,
        responses={
            200: "{user, changed, token, ...}",
            401: "invalid_credentials | token_revoked",
            403: "no_account",
            422: "weak_password | invalid_body",
            423: "account_locked",
        },
    ),
    ApiRoute(
        "/v1/auth/revoke",
        "POST",
        revoke_own,
        "Credentials stolen: revoke every token of one's own account (this one too)",
        auth="any",
        responses={200: "{user, revoked, token_version}", **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/users/{user}/revoke",
        "POST",
        revoke_user,
        "Revoke every token of a user (Art. 33); open WebSockets close with 4401",
        auth="operator",
        responses={200: "{user, revoked, token_version}", 404: "unknown_user", **ERR_AUTH},
    ),
    ApiRoute(
        "/v1/admin/audit",
        "GET",
        audit_log,
        "Audit log: ?facility=&since=&after=&limit=&format=json|csv (staff: own facility)",
        auth="staff",
        responses={200: "{facility, entries, next}", **ERR_QUERY},
    ),
    ApiRoute(
        "/v1/admin/audit.csv",
        "GET",
        audit_csv,
        "Audit log as CSV: ?facility=&since=&limit= (staff: own facility)",
        auth="staff",
        responses={200: "text/csv", **ERR_QUERY},
    ),
]
