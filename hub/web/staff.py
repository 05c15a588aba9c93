"""HTTP routes of the clinic admin (``clinic-admin`` access: an admin staff user of the
facility, or the operator): the facility's staff accounts, and the operator's reset and
unlock of any account. Every call is audited by the router (the user acted on is the
target)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from hub.errors import NotFound
from hub.staff import OPERATOR, Actor
from hub.users import PASSWORD_MAX, PASSWORD_MIN
from hub.web.bodies import parse, read_limited
from hub.web.routing import (
    ApiRoute,
    audit_target,
    facility_of,
    json_response,
    principal_of,
    services_of,
)


class StaffUserRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A new staff user: a name, and a first password (left out: one is generated and
    answered once); either way it must be changed at the first login."""

    user: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: (
        Annotated[str, msgspec.Meta(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)] | None
    ) = None
    admin: bool = False


class AdminFlagRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    admin: bool


def _actor(request: Request) -> Actor:
    principal = principal_of(request)
    assert principal is not None  # the route's "clinic-admin" access checked it
    return OPERATOR if principal.role == "operator" else Actor(principal.subject)


def _user(request: Request) -> str:
    name: str = request.path_params["user"]
    if not 1 <= len(name) <= 100:
        raise NotFound("no such user in this facility", code="unknown_user")
    return name


async def list_staff(request: Request) -> Response:
    """The facility's staff accounts: admin, throttled, last login."""
    facility = facility_of(request)
    users = await services_of(request).staff.list(facility)
    return json_response({"facility": facility, "users": users})


async def add_staff(request: Request) -> Response:
    """Add a staff user (``password`` left out: a one-time password is generated)."""
    facility = facility_of(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), StaffUserRequest)
    audit_target(request, facility=facility, target=f"user={body.user} admin={body.admin}")
    added = await services.staff.add(
        facility, body.user, body.password, body.admin, _actor(request)
    )
    return json_response(added, status=201)


async def reset_password(request: Request) -> Response:
    """A temporary password, answered once; the user must change it at the next login."""
    facility, name = facility_of(request), _user(request)
    return json_response(await services_of(request).staff.reset(facility, name, _actor(request)))


async def unlock(request: Request) -> Response:
    """Forget the user's failed logins: it logs in at once."""
    facility, name = facility_of(request), _user(request)
    return json_response(await services_of(request).staff.unlock(facility, name, _actor(request)))


async def remove(request: Request) -> Response:
    """Delete the account; its tokens stop working."""
    facility, name = facility_of(request), _user(request)
    return json_response(await services_of(request).staff.remove(facility, name, _actor(request)))


async def set_admin(request: Request) -> Response:
    """Grant or revoke clinic admin rights ``{admin: true|false}``."""
    facility, name = facility_of(request), _user(request)
    services = services_of(request)
    body = parse(await read_limited(request, services.settings.max_body_bytes), AdminFlagRequest)
    audit_target(request, facility=facility, target=f"user={name} admin={body.admin}")
    changed = await services.staff.set_admin(facility, name, body.admin, _actor(request))
    return json_response(changed)


async def operator_reset(request: Request) -> Response:
    """The operator resets any user's password (a temporary one, answered once)."""
    name = _user(request)
    reset = await services_of(request).staff.reset(None, name, OPERATOR)
    audit_target(request, facility=reset["facility"], target=f"user={name}")
    return json_response(reset)


async def operator_unlock(request: Request) -> Response:
    """The operator forgets any user's failed logins."""
    name = _user(request)
    unlocked = await services_of(request).staff.unlock(None, name, OPERATOR)
    audit_target(request, facility=unlocked["facility"], target=f"user={name}")
    return json_response(unlocked)


U = "/v1/facilities/{facility}/users"
ERR = {
    400: "invalid_facility",
    401: "no, bad or revoked token",
    403: "forbidden (not a clinic admin of this facility) | password_change_required",
}
ERR_USER = {**ERR, 404: "unknown_user"}
ROUTES = [
    ApiRoute(
        U,
        "GET",
        list_staff,
        "Clinic admin: the facility's staff accounts (admin, throttled, last login)",
        access="clinic-admin",
        responses={200: "{facility, users: [{user, admin, throttled, last_login, ...}]}", **ERR},
    ),
    ApiRoute(
        U,
        "POST",
        add_staff,
        "Clinic admin: add a staff user {user, password?, admin?} (must change it at first login)",
        access="clinic-admin",
        body=StaffUserRequest,
        body_required=True,
        responses={
            201: "{user, admin, facility, must_change_password, temporary_password?}",
            409: "user_exists",
            422: "invalid_body | weak_password",
            **ERR,
        },
    ),
    ApiRoute(
        U + "/{user}/reset",
        "POST",
        reset_password,
        "Clinic admin: reset a forgotten password → temporary password (shown once)",
        access="clinic-admin",
        responses={200: "{user, temporary_password, must_change_password}", **ERR_USER},
    ),
    ApiRoute(
        U + "/{user}/unlock",
        "POST",
        unlock,
        "Clinic admin: clear a user's failed logins (login throttle)",
        access="clinic-admin",
        responses={200: "{user, unlocked, was_throttled}", **ERR_USER},
    ),
    ApiRoute(
        U + "/{user}",
        "DELETE",
        remove,
        "Clinic admin: remove a staff user (its tokens stop working)",
        access="clinic-admin",
        responses={200: "{user, removed}", 409: "own_account | last_admin", **ERR_USER},
    ),
    ApiRoute(
        U + "/{user}/admin",
        "PUT",
        set_admin,
        "Clinic admin: grant or revoke clinic admin rights {admin}",
        access="clinic-admin",
        body=AdminFlagRequest,
        body_required=True,
        responses={
            200: "{user, admin, changed}",
            409: "own_account | last_admin",
            422: "invalid_body",
            **ERR_USER,
        },
    ),
    ApiRoute(
        "/v1/admin/users/{user}/reset",
        "POST",
        operator_reset,
        "Reset any user's password → temporary password (shown once); older tokens revoked",
        access="operator",
        responses={200: "{user, facility, temporary_password, must_change_password}", **ERR_USER},
    ),
    ApiRoute(
        "/v1/admin/users/{user}/unlock",
        "POST",
        operator_unlock,
        "Clear any user's failed logins (login throttle)",
        access="operator",
        responses={200: "{user, facility, unlocked, was_throttled}", **ERR_USER},
    ),
]
