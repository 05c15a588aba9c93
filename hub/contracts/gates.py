"""What a facility's contract lets its callers do, decided on the facility record alone."""

from __future__ import annotations

from collections.abc import Collection

from hub.errors import Forbidden
from hub.queue.facilities import Facility


def check_api_option(
    record: Facility, origin: str | None, own_origins: Collection[str], partner: bool
) -> None:
    """The partner API is an option (Table 1): called from another origin (an ``Origin``
    that is not one of the hub's ``own_origins``) or by a ``partner``, a facility without
    it is 403 ``option_not_contracted``. The hub's own pages (same origin, or no Origin)
    always work. Costs no Redis call: the options are on the facility record."""
    if record.has_option("api"):
        return
    if partner or (origin is not None and origin.rstrip("/") not in own_origins):
        raise Forbidden(
            "this facility has not contracted the API option (Table 1)",
            code="option_not_contracted",
        )
