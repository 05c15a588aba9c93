"""The demo's time-band reservations (``junban serve --demo``): the paediatrics counter
takes bookings in half-hour bands, three places each, in its hours (Mon–Fri 9–12 and
15–18, Sat 9–12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.booking.config import Band, BookingConfig
from hub.queue.model import QueueConfig

if TYPE_CHECKING:
    from hub.app import Services

HALF_HOURS = ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00")
HALF_HOURS_PM = ("15:00", "15:30", "16:00", "16:30", "17:00", "17:30", "18:00")
DEMO_BANDS = tuple(
    Band(start=a, end=b, capacity=3, days=days)
    for hours, days in ((HALF_HOURS, (1, 2, 3, 4, 5, 6)), (HALF_HOURS_PM, (1, 2, 3, 4, 5)))
    for a, b in zip(hours, hours[1:], strict=False)
)


async def configure_demo(services: Services, info: str, now: float) -> None:
    """Turn bookings on for ``info`` (its other settings at their defaults)."""
    facility = info.split("-", 1)[0]
    config = QueueConfig(bookings=BookingConfig(bands=DEMO_BANDS))
    await services.queues.configure(info, facility, config, None, now)
