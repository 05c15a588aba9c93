"""Rate limits held in Redis, so they bind across every hub process (Art. 37).

A GCRA step per request (``hub/lua/gcra.lua``): ``limit`` requests per ``window`` seconds,
at most ``limit`` at once from idle. One round trip; the key carries the facility's hash tag
when the limit is per facility.
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis

from hub import keys, metrics
from hub.errors import RateLimited


class RateLimiter:
    """Checks and counts one request against a named limit."""

    def __init__(self, redis: Redis) -> None:
        script = resources.files("hub").joinpath("lua/gcra.lua").read_text()
        self._step = redis.register_script(script)

    async def hit(
        self, scope: str, subject: str, limit: tuple[int, float], facility: str | None = None
    ) -> None:
        """Count one request; RateLimited (429) when over ``limit`` = (count, window_s)."""
        count, window = limit
        if count <= 0:
            return
        interval_ms = window * 1000 / count
        allowed, retry_ms = await self._step(
            keys=[keys.rate(scope, subject, facility)], args=[interval_ms, window * 1000]
        )
        if not int(allowed):
            metrics.RATE_LIMITED.labels(scope).inc()
            raise RateLimited(
                "too many requests; please try again shortly", retry_after=int(retry_ms) / 1000
            )
