"""Staff and operator user accounts: names, argon2 password hashes, role and facility.

Art. 33 (the customer keeps user ID and password safe and reports theft):

- **Throttling, never a lockout** (OWASP, NIST SP 800-63B 5.2.2): ``LoginGuard`` counts
  failed logins per (user name, client network) pair in Redis, the same for names that do
  not exist, so the answer never tells whether a user exists. After ``free_failures`` of
  a pair, each further attempt of that pair waits 1, 2, 4 … s (at most ``max_wait_s``)
  and also draws on the name's shared slowdown (``LOGIN_CHECKS_PER_NAME``); a refused
  attempt gets 429 ``login_throttled`` with ``Retry-After`` and costs no password check.
  A pair with fewer failures is always checked, so an attacker elsewhere never delays the
  real user's right password; the per-address limit (``LOGIN_LIMIT_PER_IP``) bounds
  credential stuffing across names. Each attempt *reserves* its count atomically before
  the password is checked (``LoginGuard.reserve``), so a parallel burst from one address
  gets at most ``free_failures`` checks. A success forgets the pair.
- **Revocation**: every account has a token version (``jb:users:tv``); login tokens carry it
  as ``tv``. Revoking ("credentials stolen") or changing the password bumps the version, and
  every older token stops working. ``TokenVersions`` caches the versions per process for
  ``CACHE_S`` seconds, so the hot path pays a dict lookup; the revoking process forgets its
  entry at once, other processes see the change within ``CACHE_S``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar, cast

from redis.asyncio import Redis

from hub import keys, metrics
from hub.audit import AuditEntry, AuditLog
from hub.auth import Tokens
from hub.errors import Close, Conflict, JunbanError, NotFound, Unauthorized, Unprocessable
from hub.queue.facilities import FacilityStore
from hub.ratelimit import RateLimiter
from hub.users import User, UserStore, check_password_policy

__all__ = ["AccountService", "Caller", "LoginGuard", "LoginThrottled", "TokenVersions", "UserStore"]


class LoginThrottled(JunbanError):
    """429: too many recent failed logins of this user name from here (or, for callers
    already throttled, from everywhere); retry after ``retry_after`` seconds. Nothing was
    checked."""

    status, close_code, default_code = 429, Close.RATE_LIMITED, "login_throttled"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many failed logins: wait {seconds} s before the next try; "
            "the waits grow with each failure and a success ends them"
        )
        self.retry_after = float(seconds)


LOGIN_CHECKS_PER_NAME = (10, 60.0)
"""Password checks of one user name per minute for callers already throttled on it (each
with ``free_failures`` recent failures), across every address: the mild slowdown that a
distributed attacker hits, and that never touches a caller below its own free failures."""
THROTTLE_WINDOW_S = 900
"""A (name, address) pair's failures are forgotten 15 minutes after its last attempt."""


class LoginGuard:
    """Failed-login throttling per (user name, client network) pair and per name, shared by
    every process; never a lockout of the name."""

    def __init__(self, redis: Redis, free_failures: int = 3, max_wait_s: int = 60) -> None:
        self.redis = redis
        self.free_failures = free_failures
        self.max_wait_s = max_wait_s
        lua = resources.files("hub").joinpath("lua")
        self._reserve = redis.register_script(lua.joinpath("login_attempt.lua").read_text())
        self._failed = redis.register_script(lua.joinpath("login_failed.lua").read_text())

    async def reserve(self, name: str, address: str) -> int:
        """Count this attempt as a failure of (``name``, ``address``) *before* the password
        is checked, atomically; the pair's failures so far. LoginThrottled (nothing counted,
        nothing to check) while the pair must wait, or while it is throttled and the name's
        shared slowdown is spent. Call ``succeeded`` when the password was right; a wrong
        one stays counted for ``THROTTLE_WINDOW_S``."""
        if self.free_failures <= 0:
            return 0
        count, window = LOGIN_CHECKS_PER_NAME
        allowed, value, _ = await self._reserve(
            keys=[keys.login_pair(name, address), keys.login_checks(name), keys.login_pairs(name)],
            args=[*self._waits(), window * 1000 / count, window * 1000],
        )
        if not int(allowed):
            raise LoginThrottled(retry_after=int(value) / 1000)
        return int(value)

    async def failed(self, name: str, address: str) -> None:
        """The reserved attempt's password was wrong: the pair's wait runs from now (after
        the check), not from the reservation."""
        if self.free_failures > 0:
            await self._failed(keys=[keys.login_pair(name, address)], args=self._waits())

    def _waits(self) -> list[int]:
        """free failures, first wait (ms), longest wait (ms), window (ms): the scripts' ARGV."""
        return [self.free_failures, 1000, self.max_wait_s * 1000, THROTTLE_WINDOW_S * 1000]

    async def succeeded(self, name: str, address: str) -> None:
        """The right password: forget the pair's failures (the name's slowdown stays)."""
        await self.redis.delete(keys.login_pair(name, address))

    async def state(self, name: str) -> tuple[int, float]:
        """(most recent failures of one of the name's pairs, seconds until every pair may
        try again): the staff list's "throttled" column."""
        members = cast(set[bytes], await self.redis.smembers(keys.login_pairs(name)))
        pairs = [p.decode() for p in members]
        if not pairs:
            return 0, 0.0
        seconds, micros = await self.redis.time()
        now_ms = seconds * 1000 + micros // 1000
        failures, until = 0, 0
        for pair in pairs:
            f, u = await self.redis.hmget(pair, ["f", "u"])
            failures = max(failures, int(f or 0))
            until = max(until, int(u or 0))
        return failures, max(0.0, (until - now_ms) / 1000)

    async def unlock(self, name: str) -> bool:
        """Forget every failure of ``name`` from everywhere and its shared slowdown (a clinic
        admin or the operator unlocks a throttled user); whether there was any."""
        index = keys.login_pairs(name)
        pairs = [p.decode() for p in cast(set[bytes], await self.redis.smembers(index))]
        # one hash tag ({login:<name>}): one multi-key DEL on one slot
        removed = int(await self.redis.delete(*pairs, index, keys.login_checks(name)))
        return removed > 0


class TokenVersions:
    """Each account's token version, cached per process for ``CACHE_S`` seconds."""

    CACHE_S: ClassVar[float] = 1.0
    MAX_CACHED: ClassVar[int] = 50_000

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._cache: dict[str, tuple[float, int]] = {}

    def cached(self, user: str) -> int | None:
        """The version as cached (less than ``CACHE_S`` old), or None: no Redis call."""
        hit = self._cache.get(user)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    async def current(self, user: str) -> int:
        now = time.monotonic()
        hit = self._cache.get(user)
        if hit is not None and hit[0] > now:
            return hit[1]
        raw = await self.redis.hget(keys.TOKEN_VERSIONS, user)
        return self._remember(user, int(raw or 0), now)

    async def many(self, users: Iterable[str]) -> dict[str, int]:
        """Fresh versions of ``users`` in one round trip (refreshing the cache)."""
        names = sorted(set(users))
        if not names:
            return {}
        raw: list[Any] = await self.redis.hmget(keys.TOKEN_VERSIONS, names)
        now = time.monotonic()
        return {n: self._remember(n, int(v or 0), now) for n, v in zip(names, raw, strict=True)}

    async def bump(self, user: str) -> int:
        """Revoke every token of ``user`` issued so far; the new version."""
        version = int(await self.redis.hincrby(keys.TOKEN_VERSIONS, user, 1))
        return self._remember(user, version, time.monotonic())

    def _remember(self, user: str, version: int, now: float) -> int:
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[user] = (now + self.CACHE_S, version)
        return version


LOGIN_LIMIT_PER_IP = (10, 60.0)
"""Password checks one client network (an IPv4 address, an IPv6 /64) may ask for per minute,
any user name: the bound on credential stuffing from one place."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Where a request without an account behind it comes from (for the audit log)."""

    ip: str
    user_agent: str = ""


RevokedHook = Callable[[dict[str, int]], object]
"""Told ``{user: new token version}`` when tokens were revoked (closes this process's
sockets at once; the other processes see it within ``TokenVersions.CACHE_S``)."""


class AccountService:
    """The account use cases (Art. 33): log in under the throttle, change one's password,
    revoke every token of an account, and create users."""

    def __init__(
        self,
        users: UserStore,
        guard: LoginGuard,
        versions: TokenVersions,
        tokens: Tokens,
        limiter: RateLimiter,
        audit: AuditLog,
        facilities: FacilityStore,
        token_ttl_s: int,
    ) -> None:
        self.users = users
        self.guard = guard
        self.versions = versions
        self.tokens = tokens
        self.limiter = limiter
        self.audit = audit
        self.facilities = facilities
        self.token_ttl_s = token_ttl_s
        self.on_revoked: RevokedHook | None = None

    async def login(self, name: str, password: str, caller: Caller) -> dict[str, Any]:
        """A login token; 401 for a wrong name or password (the same either way), 429
        ``rate_limited`` past the per-address limit, 429 ``login_throttled`` while this
        address must wait after its failures on ``name`` (no password check). Every outcome
        is audited."""
        try:
            await self.guard.reserve(name, caller.ip)
        except LoginThrottled:
            metrics.LOGIN_FAILURES.labels("throttled").inc()
            await self.audit.append(_login_event(caller, name, "", 429, "login_throttled"))
            raise
        # a throttled attempt costs the address nothing; a reserved one that its address's
        # limit refuses stays counted as a failure of this pair (no reset by being refused)
        subject = keys.client_network(caller.ip)
        await self.limiter.hit([("login", subject, LOGIN_LIMIT_PER_IP)])
        user = await self.users.authenticate(name, password)
        if user is None:
            metrics.LOGIN_FAILURES.labels("invalid").inc()
            await self.guard.failed(name, caller.ip)
            await self.audit.append(_login_event(caller, name, "", 401, "invalid_credentials"))
            raise Unauthorized("wrong user or password", code="invalid_credentials")
        await self.guard.succeeded(name, caller.ip)
        await self.users.logged_in(user.name, time.time())
        answer = await self._issue(user)
        facility = user.facility if user.role == "staff" and user.facility else ""
        await self.audit.append(_login_event(caller, user.name, user.role, 200, "ok", facility))
        return answer

    async def change_password(
        self, name: str, old: str, new: str, caller: Caller
    ) -> dict[str, Any]:
        """Change ``name``'s password (the current one is checked under the same throttle as
        a login from ``caller``): every older token of the account stops working and the
        answer carries a fresh one."""
        await self.guard.reserve(name, caller.ip)
        if await self.users.authenticate(name, old) is None:
            metrics.LOGIN_FAILURES.labels("invalid").inc()
            await self.guard.failed(name, caller.ip)
            raise Unauthorized("the current password is wrong", code="invalid_credentials")
        await self.guard.succeeded(name, caller.ip)
        check_password_policy(new, name)
        if new == old:
            raise Unprocessable("the new password is the old one", code="weak_password")
        user = await self.users.set_password(name, new)
        if user is None:
            raise NotFound("no such user", code="unknown_user")
        await self.revoke(name)
        return {"user": name, "changed": True, **await self._issue(user)}

    async def revoke(self, name: str) -> int:
        """Every token of ``name`` issued so far stops working; the new token version."""
        version = await self.versions.bump(name)
        if self.on_revoked is not None:
            self.on_revoked({name: version})
        return version

    async def revoke_user(self, name: str) -> int:
        """The operator revokes a user's tokens; 404 ``unknown_user``."""
        if not 1 <= len(name) <= 100 or await self.users.get(name) is None:
            raise NotFound("no such user", code="unknown_user")
        return await self.revoke(name)

    async def create_user(
        self,
        name: str,
        password: str,
        role: str,
        facility: str | None,
        *,
        admin: bool = False,
        must_change: bool = False,
    ) -> User:
        """A new staff or operator user (a staff user belongs to an existing facility; an
        ``admin`` one is a clinic admin); 409 ``user_exists`` when the name is taken."""
        check_password_policy(password, name)
        if role == "staff" and (facility is None or await self.facilities.get(facility) is None):
            raise Unprocessable("a staff user needs an existing facility", code="invalid_body")
        if admin and role != "staff":
            raise Unprocessable("only a staff user can be a clinic admin", code="invalid_body")
        user = await self.users.add(
            name, password, role, facility, admin=admin, must_change=must_change
        )
        if user is None:
            raise Conflict("that user name is taken", code="user_exists")
        return user

    async def _issue(self, user: User) -> dict[str, Any]:
        version = (await self.versions.many([user.name]))[user.name]
        ttl = self.token_ttl_s
        admin = user.admin and user.role == "staff"
        token = self.tokens.issue(
            user.role,
            subject=user.name,
            facility=user.facility,
            ttl_s=ttl,
            version=version,
            admin=admin,
            must_change=user.must_change,
        )
        return {
            "token": token,
            "role": user.role,
            "facility": user.facility,
            "admin": admin,
            "must_change_password": user.must_change,
            "expires_in": ttl,
        }


def _login_event(
    caller: Caller, who: str, role: str, status: int, outcome: str, facility: str = ""
) -> AuditEntry:
    """An account event for the audit log (a login has no principal to wrap)."""
    return AuditEntry(
        who=who,
        role=role,
        action="POST /v1/auth/login",
        status=status,
        outcome=outcome,
        facility=facility,
        ip=caller.ip,
        user_agent=caller.user_agent,
        at=time.time(),
    )
