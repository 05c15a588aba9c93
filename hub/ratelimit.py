"""Rate limits held in Redis, so they bind across every hub process (Art. 37).

One GCRA step per request for all the limits that apply (``hub/lua/gcra.lua``): ``count``
requests per ``window`` seconds, at most ``count`` at once from idle; a refused request
uses up none of them. One round trip; keys carry the facility's hash tag so the script
stays on one Redis Cluster shard.
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis

from hub import keys, metrics
from hub.errors import RateLimited

Limit = tuple[str, str, tuple[int, float]]
"""(scope, subject, (count, window_s))."""


class RateLimiter:
    """Checks and counts one request against the limits that apply to it."""

    def __init__(self, redis: Redis) -> None:
        script = resources.files("hub").joinpath("lua/gcra.lua").read_text()
        self.redis = redis
        self._step = redis.register_script(script)

    async def hit(self, limits: list[Limit], facility: str | None = None) -> None:
        """Count one request; RateLimited (429) when any of ``limits`` is exceeded."""
        active = [(scope, subject, rate) for scope, subject, rate in limits if rate[0] > 0]
        if not active:
            return
        args: list[float] = []
        for _, _, (count, window) in active:
            args += [window * 1000 / count, window * 1000]
        key_list = [keys.rate(scope, subject, facility) for scope, subject, _ in active]
        allowed, retry_ms, index = await self._step(keys=key_list, args=args)
        if not int(allowed):
            metrics.RATE_LIMITED.labels(active[int(index) - 1][0]).inc()
            raise RateLimited(
                "too many requests; please try again shortly", retry_after=int(retry_ms) / 1000
            )

    async def reset(self, scope: str, subject: str, facility: str | None = None) -> None:
        """Forget one subject's state: its next request starts from a clean slate (a new
        limit is not held back by the state built under the old one)."""
        await self.redis.delete(keys.rate(scope, subject, facility))
