"""Tokens and permissions: HS256 JWTs (PyJWT) carrying a role and its scope.

Roles: ``operator`` (every facility), ``staff`` and ``monitor`` and ``partner`` (one
facility), ``patient`` (one ticket of one queue), ``kiosk`` (a paired reception kiosk of one
facility: it issues kiosk tickets there, nothing else). The HTTP routes and, later, the live
channels both ask this module, so a permission means the same thing everywhere.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import jwt

from hub.errors import Forbidden, Unauthorized

ROLES = ("operator", "staff", "monitor", "patient", "partner", "kiosk")
ALGORITHM = "HS256"
PATIENT_TOKEN_TTL_S = 36 * 3600
"""A patient's ticket token outlives the business day it was issued on."""

Access = Literal[
    "public",
    "optional",
    "ticket-or-staff",
    "staff",
    "staff-any",
    "account",
    "operator",
    "clinic-admin",
]
"""Who may call a route; the router enforces it before the handler runs (``check_access``):

- ``public``: anyone; a token is not looked at (a bad one is ignored);
- ``optional``: anyone, but a token that is sent must be valid (staff get more);
- ``ticket-or-staff``: the token of the ticket in the path, or staff of its facility;
- ``staff``: staff of the facility in the path (or the operator);
- ``staff-any``: staff of any facility or the operator (the handler narrows by what is asked);
- ``account``: a login token of a staff or operator account (it can be revoked);
- ``operator``: the operator only;
- ``clinic-admin``: a clinic admin of the facility in the path (a login token of a staff
  user with ``admin: true``, claim ``adm``), or the operator.

A token with the ``pwc`` claim (a login with a temporary password) may call ``public`` and
``account`` routes only, until the password is changed (403 ``password_change_required``).
"""
ACCESS: tuple[Access, ...] = get_args(Access)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, as a verified token says."""

    role: str
    subject: str
    facility: str | None = None
    info: str | None = None
    ticket: str | None = None
    expires_at: float | None = None
    token_version: int | None = None
    """The account's token version when issued (``tv`` claim): a login token of a user
    account. None for tokens that belong to no account (CLI, patient, monitor): those cannot
    be revoked one by one (rotate JUNBAN_SECRET or let them expire)."""
    admin: bool = False
    """A clinic admin's login token (``adm`` claim): manages its facility's staff accounts."""
    must_change: bool = False
    """Logged in with a temporary password (``pwc`` claim): it may only change it."""
    scopes: tuple[str, ...] = ()
    """A partner API key's scopes (hub.apikeys.SCOPES); none for tokens."""
    key_id: str | None = None
    """The partner API key's id (hub.apikeys), None for tokens; the audit's ``who``."""

    def is_staff_of(self, facility: str) -> bool:
        if self.must_change:
            return False
        if self.key_id is not None:  # the router lets a key reach only hub.apikeys.ROUTE_SCOPES
            return self.facility == facility and "tickets:write" in self.scopes
        return self.role == "operator" or (self.role == "staff" and self.facility == facility)

    def is_clinic_admin_of(self, facility: str) -> bool:
        """The operator, or a clinic admin's login token for ``facility``."""
        if self.role == "operator":
            return not self.must_change
        return self.admin and self.token_version is not None and self.is_staff_of(facility)

    def holds_ticket(self, info: str, ticket_id: str) -> bool:
        return self.role == "patient" and self.info == info and self.ticket == ticket_id


class Tokens:
    """Signs and verifies Junban tokens with one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("JUNBAN_SECRET must be at least 32 bytes (RFC 7518 3.2)")
        self._secret = secret

    def issue(
        self,
        role: str,
        *,
        subject: str = "",
        facility: str | None = None,
        info: str | None = None,
        ticket: str | None = None,
        ttl_s: int = 8 * 3600,
        now: float | None = None,
        version: int | None = None,
        admin: bool = False,
        must_change: bool = False,
    ) -> str:
        """A signed token; ``version`` (the account's token version, see hub.accounts) makes
        it revocable: it stops working once the account's version moves past it."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if role != "operator" and facility is None:
            raise ValueError(f"a {role} token needs a facility")
        issued = int(now if now is not None else time.time())
        claims: dict[str, object] = {"role": role, "sub": subject, "iat": issued}
        claims["exp"] = issued + ttl_s
        for name, value in (("fac", facility), ("info", info), ("tid", ticket), ("tv", version)):
            if value is not None:
                claims[name] = value
        for name, flag in (("adm", admin), ("pwc", must_change)):
            if flag:
                claims[name] = True
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def patient(self, info: str, ticket_id: str, ttl_s: int = PATIENT_TOKEN_TTL_S) -> str:
        """The token that lets one patient follow and cancel one ticket (36 h: past the day;
        a booking's lasts until 36 h after its date)."""
        facility = info.split("-", 1)[0]
        return self.issue(
            "patient",
            subject=ticket_id,
            facility=facility,
            info=info,
            ticket=ticket_id,
            ttl_s=ttl_s,
        )

    def verify(self, token: str) -> Principal:
        """The token's principal; Unauthorized (401 / close 4401) when forged or expired."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "role"]}
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the token is not valid", code="invalid_token") from exc
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthorized("the token is not valid", code="invalid_token")
        return Principal(
            role=role,
            subject=str(claims.get("sub", "")),
            facility=_opt_str(claims.get("fac")),
            info=_opt_str(claims.get("info")),
            ticket=_opt_str(claims.get("tid")),
            expires_at=float(claims["exp"]),
            token_version=_opt_int(claims.get("tv")),
            admin=claims.get("adm") is True,
            must_change=claims.get("pwc") is True,
        )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def require_staff(principal: Principal | None, facility: str) -> Principal:
    """The principal if it is staff of ``facility`` (or operator); else 401/403."""
    if principal is None:
        raise Unauthorized("a staff token is required", code="unauthorized")
    if not principal.is_staff_of(facility):
        raise Forbidden("this token may not act on that facility", code="forbidden")
    return principal


def require_ticket_or_staff(
    principal: Principal | None, info: str, facility: str, ticket_id: str
) -> Principal:
    """The principal if it holds that ticket or is staff of its facility; else 401/403."""
    if principal is None:
        raise Unauthorized("this ticket's token (or a staff token) is required")
    if not (principal.holds_ticket(info, ticket_id) or principal.is_staff_of(facility)):
        raise Forbidden("this token is not for that ticket", code="forbidden")
    return principal


def require_staff_any(principal: Principal | None) -> Principal:
    """The principal if it is staff of some facility or the operator; else 401/403."""
    if principal is None:
        raise Unauthorized("a staff or operator token is required", code="unauthorized")
    if principal.role not in ("staff", "operator"):
        raise Forbidden("only staff or the operator may do this", code="forbidden")
    return principal


def require_account(principal: Principal | None) -> Principal:
    """The principal if it is a login token of a staff or operator account (it has ``tv``)."""
    if principal is None:
        raise Unauthorized("a login token is required", code="unauthorized")
    if principal.token_version is None or principal.role not in ("staff", "operator"):
        raise Forbidden(
            "this token belongs to no user account (issued by the CLI or to a device); "
            "log in with a user and password",
            code="no_account",
        )
    return principal


def require_clinic_admin(principal: Principal | None, facility: str) -> Principal:
    """The principal if it is a clinic admin of ``facility`` (or the operator); else 401/403."""
    if principal is None:
        raise Unauthorized("a clinic admin's login token is required", code="unauthorized")
    if not principal.is_clinic_admin_of(facility):
        raise Forbidden("only the clinic's admins or the operator may do this", code="forbidden")
    return principal


def require_password_changed(principal: Principal | None) -> None:
    """403 ``password_change_required`` for a token of a temporary password (``pwc``)."""
    if principal is not None and principal.must_change:
        raise Forbidden(
            "log in was with a temporary password: set a new one first (POST /v1/auth/password)",
            code="password_change_required",
        )


def require_operator(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("an operator token is required", code="unauthorized")
    if principal.role != "operator":
        raise Forbidden("only the operator may do this", code="forbidden")
    return principal


def load_secret(explicit: str | None, data_dir: Path) -> str:
    """JUNBAN_SECRET, else the secret generated once into ``data_dir/secret`` (mode 0600)."""
    if explicit:
        return explicit
    path = data_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
