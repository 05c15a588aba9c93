"""Every Redis key and channel name Junban uses, built in one place.

Keys of one facility share the hash tag ``{facility}`` so that one Lua script touching a
queue's hash, stream and idempotency keys runs on a single Redis Cluster shard.
"""

from __future__ import annotations

import hashlib

USERS = "jb:users"
"""hash: user name -> msgpack {hash, role, facility}."""
FACILITIES = "jb:facilities"
"""set of facility numbers."""


def _split(info: str) -> tuple[str, str]:
    facility, _, counter = info.partition("-")
    return facility, counter


def queue(info: str) -> str:
    """hash: v, epoch, snap (msgpack state), view (public view JSON)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:q"


def log(info: str) -> str:
    """stream: the queue's events, fields v, t (kind), e (msgpack)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:log"


def idempotency(info: str, key: str) -> str:
    """string: the stored first answer to a mutating call with this Idempotency-Key."""
    facility, counter = _split(info)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"jb:{{{facility}}}:{counter}:idem:{digest}"


def public_channel(info: str) -> str:
    """pub/sub channel carrying each new public view of the queue (JSON)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:pub"


def facility(number: str) -> str:
    """string: msgpack of the facility record."""
    return f"jb:{{{number}}}:fac"


def rate(scope: str, subject: str, facility_number: str | None = None) -> str:
    """string: the GCRA 'theoretical arrival time' of one rate-limited subject."""
    tag = f"{{{facility_number}}}" if facility_number else "rl"
    return f"jb:{tag}:rate:{scope}:{subject}"
