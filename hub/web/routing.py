"""The route table's building blocks: one ``ApiRoute`` feeds both Starlette and OpenAPI."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from hub.apikeys import PREFIX as KEY_PREFIX
from hub.audit import AuditEntry, AuditLog, ReadDedupe, storage_failed
from hub.auth import (
    Access,
    Principal,
    require_account,
    require_clinic_admin,
    require_operator,
    require_password_changed,
    require_staff,
    require_staff_any,
    require_ticket_or_staff,
)
from hub.errors import BadRequest, Forbidden, JunbanError, Unauthorized, UnsupportedMediaType
from hub.queue.model import FACILITY_RE, split_info
from hub.queue.service import Idempotency

if TYPE_CHECKING:
    from hub.app import Services

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ApiRoute:
    """One HTTP operation: path, method, handler and what OpenAPI says of it."""

    path: str
    method: str
    endpoint: Endpoint
    summary: str
    access: Access
    """Who may call it (``hub.auth.Access``): ``serve`` enforces it before the handler runs,
    and /openapi.json documents it."""
    body: type | None = None
    body_required: bool = False
    responses: dict[int, str] = field(default_factory=dict)
    idempotent: bool = False
    """Takes an Idempotency-Key header."""
    path_enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Path parameters that take one of a few values."""
    media_types: tuple[str, ...] = ("application/json",)
    """The body types it takes (a provider's form-encoded callback, signed, adds its own)."""


class JSONBytes(Response):
    media_type = "application/json"


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONBytes(orjson.dumps(content), status_code=status, headers=headers)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


_AUTH = "junban.principal"
"""scope key: the principal ``authenticate`` found (or the error it would raise)."""
_AUDIT = "junban.audit"
"""scope key: what an endpoint says it acted on (``audit_target``)."""
_REVOKED = "junban.revoked"
"""scope key: the principal of a revoked token (still audited: who tried to use it)."""
AUDITED_ROLES = ("staff", "operator")
AUDITED_READS = ("staff", "staff-any", "operator", "ticket-or-staff", "clinic-admin")
"""Routes whose GETs are audited when a staff/operator token makes them: they read personal
data (the staff view, a ticket's name/phone/note), mint a patient token (the ticket link)
or read the audit log itself."""
log = logging.getLogger("junban")


def principal_of(request: Request) -> Principal | None:
    """The verified bearer token's principal; None without a token; 401 when it is bad or
    revoked (``authenticate`` checked it already when the route came through ``serve``)."""
    found = request.scope.get(_AUTH)
    if isinstance(found, JunbanError):
        raise found
    if found is not None:
        principal: Principal = found
        return principal
    return _verify_header(request)


def _verify_header(request: Request) -> Principal | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_token")
    return services_of(request).tokens.verify(token.strip())


def api_key_of(request: Request) -> str | None:
    """The partner API key sent as ``Authorization: Bearer jbk_…``, else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(KEY_PREFIX) else None


def info_of(request: Request) -> tuple[str, str, str]:
    """(info, facility, counter) from the path; 400 ``invalid_info`` when malformed."""
    info = request.path_params["info"]
    parts = split_info(info)
    if parts is None:
        raise BadRequest(
            "an information number looks like 1234-01 (facility-counter)", code="invalid_info"
        )
    return info, parts[0], parts[1]


def facility_of(request: Request) -> str:
    number: str = request.path_params["facility"]
    if not FACILITY_RE.match(number):
        raise BadRequest("a facility number is 1 to 8 digits", code="invalid_facility")
    return number


def idempotency_of(request: Request, raw_body: bytes) -> Idempotency | None:
    """The request's Idempotency-Key, scoped to its caller (another caller's equal key never
    sees this answer) and fingerprinted by method, path and body.

    The caller is its token; without a token, its client address (``client_ip``). So two
    anonymous patients sending the same key and body get two tickets, never one ticket and
    token between them. The price: an anonymous retry from another address (a phone moving
    from Wi-Fi to mobile data between the attempt and its retry) is a new request, and
    takes a second ticket; the per-address rate limit still bounds that."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise BadRequest("Idempotency-Key must be 1 to 200 characters", code="bad_request")
    token = request.headers.get("authorization")
    if token:
        caller = hashlib.sha256(token.encode()).hexdigest()[:16]
    else:  # "ip-…" never equals a token's 16 hex digits
        caller = "ip-" + hashlib.sha256(client_ip(request).encode()).hexdigest()[:16]
    key = f"{caller}:{key}"
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), raw_body):
        digest.update(part)
        digest.update(b"\0")
    return Idempotency(key=key, fingerprint=digest.hexdigest())


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request) -> Principal | None:
    """Verify the bearer token once per request, including revocation: a login token whose
    ``tv`` is below its account's token version is 401 ``token_revoked``. A bad token is
    remembered, not raised: only routes that ask ``principal_of`` refuse it."""
    try:
        key = api_key_of(request)  # a partner key (hub.apikeys), records cached <= 2 s
        principal = await _verify_key(request, key) if key else _verify_header(request)
        if principal is not None and principal.token_version is not None:
            current = await services_of(request).versions.current(principal.subject)
            if principal.token_version < current:
                request.scope[_REVOKED] = principal
                raise Unauthorized("this token was revoked; log in again", code="token_revoked")
    except JunbanError as exc:
        request.scope[_AUTH] = exc
        return None
    request.scope[_AUTH] = principal
    return principal


async def _verify_key(request: Request, key: str) -> Principal:
    principal, revoked = await services_of(request).apikeys.verify(key)
    if revoked:
        request.scope[_REVOKED] = principal
        raise Unauthorized("this API key was revoked", code="token_revoked")
    return principal


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_same_site(request: Request, media_types: tuple[str, ...] = ("application/json",)) -> None:
    """A request that changes state must not come from another site's page: a browser sends
    ``Origin`` with every cross-site POST/PUT/DELETE (form, ``fetch`` in ``no-cors`` mode or
    ``sendBeacon``), and one that is not this hub's own host (or ``JUNBAN_PUBLIC_URL``'s) is
    403 ``cross_origin``, before anything is read or counted. A body must be
    ``application/json`` (415 ``unsupported_media_type``): the content type a page of another
    site can only send after a CORS preflight, which this hub never grants for such routes.
    Servers and apps send no ``Origin`` and are unaffected."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc.lower() not in _own_hosts(request):
        raise Forbidden(
            "requests from another site's page may not change anything", code="cross_origin"
        )
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    if has_body:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type not in media_types:
            raise UnsupportedMediaType(
                "send the body as application/json", code="unsupported_media_type"
            )


def own_origins(request: Request) -> set[str]:
    """This hub's origins: the one the request names (its Host) and JUNBAN_PUBLIC_URL's."""
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    public_url = services_of(request).settings.public_url
    if public_url:
        parts = urlsplit(public_url)
        own.add(f"{parts.scheme}://{parts.netloc}")
    return own


def _own_hosts(request: Request) -> set[str]:
    """The host[:port] of each of ``own_origins`` (a scheme changed by a proxy is still us)."""
    return {urlsplit(origin).netloc.lower() for origin in own_origins(request)}


def check_access(access: Access, request: Request) -> Principal | None:
    """Enforce ``access`` for this request (401 without a fitting token, 403 with one that
    may not); the caller's principal, or None where the route needs none. A malformed
    facility or information number in the path is 400 first, as the handlers answer it."""
    if access == "public":
        return None
    principal = principal_of(request)
    if access != "account":
        require_password_changed(principal)
    if access == "optional":
        return principal
    if access == "operator":
        return require_operator(principal)
    if access == "account":
        return require_account(principal)
    if access == "staff-any":
        return require_staff_any(principal)
    if "info" in request.path_params:
        info, facility, _ = info_of(request)
    else:
        info, facility = "", facility_of(request)
    if access == "staff":
        return require_staff(principal, facility)
    if access == "clinic-admin":
        return require_clinic_admin(principal, facility)
    return require_ticket_or_staff(principal, info, facility, request.path_params["ticket_id"])


def audit_target(request: Request, *, facility: str | None = None, target: str = "") -> None:
    """Tell the audit log what this request acted on when the path does not say it."""
    request.scope[_AUDIT] = (facility, target)


def serve(route: ApiRoute) -> Endpoint:
    """The endpoint Starlette runs for ``route``: authenticate (with the revocation check),
    enforce the route's access (``check_access``), run the handler, then audit it when a
    staff or operator token acted — a revoked one too — on every method but GET, and on GETs
    of the ``AUDITED_READS`` routes (identical reads within ``READ_DEDUPE_S`` once, see
    ``ReadDedupe``). A refused access is audited like any refusal."""
    handler = route.endpoint
    access = route.access
    audit_reads = access in AUDITED_READS

    async def endpoint(request: Request) -> Response:
        check_same_site(request, route.media_types)
        check_access(access, request)
        return await handler(request)

    async def keyed(request: Request) -> Response:
        """A partner key's call: ``ApiKeyService.admit`` decides instead of ``access``."""
        found = request.scope.get(_AUTH)
        if not isinstance(found, Principal):
            raise found if isinstance(found, JunbanError) else Unauthorized("no API key")
        check_same_site(request, route.media_types)
        where = info_of(request)[1] if "info" in request.path_params else None
        if where is None and "facility" in request.path_params:
            where = facility_of(request)
        now = time.time()
        await services_of(request).apikeys.admit(found, route.method, route.path, where, now)
        return await handler(request)

    async def served(request: Request) -> Response:
        principal = await authenticate(request) or request.scope.get(_REVOKED)
        run = endpoint
        if api_key_of(request) is not None:  # every use of a partner key is audited
            if principal is None:  # an unknown key: nobody to audit
                raise request.scope[_AUTH]
            run = keyed
        elif principal is None or principal.role not in AUDITED_ROLES:
            return await endpoint(request)
        reading = request.method == "GET"
        if reading and not audit_reads and run is endpoint:
            return await endpoint(request)
        audit_log = services_of(request).audit
        try:
            response = await run(request)
        except JunbanError as exc:
            entry = _entry(request, route, principal, exc.status, exc.code)
            if not reading or _READS.first(entry):
                await _audit_refusal(audit_log, entry, storage_failed=exc.status == 503)
            raise
        except Exception as exc:
            entry = _entry(request, route, principal, 500, "error")
            await _audit_refusal(audit_log, entry, storage_failed=storage_failed(exc))
            raise
        entry = _entry(request, route, principal, response.status_code, "ok")
        if not reading or _READS.first(entry):
            response.background = _after(response.background, audit_log, entry)
        return response

    served.__name__ = handler.__name__
    served.__doc__ = handler.__doc__
    return served


_PENDING: set[asyncio.Task[None]] = set()
"""Audit writes sent off in the background (held so the loop does not drop them)."""


async def _audit_refusal(audit_log: AuditLog, entry: AuditEntry, *, storage_failed: bool) -> None:
    """Audit a refused or failed action before the error answer goes out, except when the
    storage itself failed: that write would wait out the same Redis deadline and double the
    client's wait, so it is sent off in the background (and lost, logged, if Redis stays
    down)."""
    if not storage_failed:
        await audit_log.append_quietly(entry)
        return
    task = asyncio.create_task(audit_log.append_quietly(entry))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_READS = ReadDedupe()


def _entry(
    request: Request, route: ApiRoute, principal: Principal, status: int, outcome: str
) -> AuditEntry:
    params = request.path_params
    facility, target = request.scope.get(_AUDIT, (None, ""))
    if facility is None:
        info = params.get("info")
        parts = split_info(info) if isinstance(info, str) else None
        number = params.get("facility") if parts is None else parts[0]
        facility = number if isinstance(number, str) and FACILITY_RE.match(number) else ""
    if not target:
        target = " ".join(f"{k}={v}" for k, v in params.items() if k != "facility")
    return AuditEntry(
        who=principal.subject,
        role=principal.role,
        actor_facility=principal.facility or "",
        action=f"{route.method} {route.path}",
        facility=facility or "",
        target=target,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        status=status,
        outcome=outcome,
        at=time.time(),
    )


def _after(
    previous: BackgroundTask | None, audit_log: AuditLog, entry: AuditEntry
) -> BackgroundTask:
    async def write() -> None:
        if previous is not None:
            await previous()
        await audit_log.append_quietly(entry, retries=2)

    return BackgroundTask(write)
