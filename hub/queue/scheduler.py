"""The scheduler: opens and closes web reception at the minutes of each facility's weekly
sessions (``hub.queue.schedule`` decides which transition is due).

Every hub process runs one (``Services.start_live``), ticking every ``JUNBAN_SCHEDULE_TICK``
seconds. A due transition is claimed with SET NX on a key naming the facility, day, minute
and action (``keys.schedule_fired``), so it is applied once across hubs and restarts; a claim
whose commands fail is given back and the next tick retries it within the minute. Opening
opens reception and web reception; closing closes web reception only (patients at the desk
are still served). Each applied transition is audited as the ``schedule`` (role ``system``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError

from hub.audit import AuditEntry, AuditLog
from hub.errors import JunbanError
from hub.queue import schedule
from hub.queue.actions import QueueActions
from hub.queue.facilities import Facility, FacilityStore
from hub.queue.model import CloseWeb, Command, OpenReception, OpenWeb
from hub.queue.schedule import Transition

log = logging.getLogger("junban")


class Scheduler:
    """Applies the due schedule transitions of every scheduled facility."""

    def __init__(
        self, facilities: FacilityStore, actions: QueueActions, audit: AuditLog, tick_s: float
    ) -> None:
        self.facilities = facilities
        self.actions = actions
        self.audit = audit
        self.tick_s = tick_s
        self.window_s = max(60.0, 3 * tick_s)
        """A transition is due this long from its minute: at least three ticks see it."""

    async def run_due(self, now: float) -> list[tuple[str, Transition]]:
        """Apply what is due at ``now``; the (facility, transition) pairs this call applied."""
        applied = []
        for number in await self.facilities.scheduled():
            record = await self.facilities.get(number)
            if record is None or not record.schedule:
                continue
            for transition in schedule.due(
                record.schedule,
                now,
                record.tz,
                record.closed_days,
                record.holidays_closed,
                self.window_s,
            ):
                if await self._apply_once(record, transition, now):
                    applied.append((number, transition))
        return applied

    async def _apply_once(self, record: Facility, transition: Transition, now: float) -> bool:
        if not await self.facilities.mark_fired(record.number, transition.key):
            return False  # another hub (or an earlier tick) applied it
        commands: list[type[Command]] = (
            [OpenReception, OpenWeb] if transition.action == "open" else [CloseWeb]
        )
        try:
            for info in record.infos():
                for command in commands:
                    await self.actions.run(info, command(at=now), lambda s: None, None)
        except BaseException:
            await self.facilities.unmark_fired(record.number, transition.key)
            raise
        entry = AuditEntry(
            who="schedule",
            role="system",
            action=f"schedule {transition.action} web reception",
            status=200,
            outcome="ok",
            facility=record.number,
            target=transition.key,
            at=now,
        )
        await self.audit.append_quietly(entry)
        return True

    async def run_forever(self) -> None:
        """Tick until cancelled; one failed round is logged and the next one retries."""
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.run_due(time.time())
            except (JunbanError, RedisError) as exc:
                log.warning("could not apply the web-reception schedule: %s", exc)
            except Exception:  # keep the scheduler alive whatever one round does
                log.exception("could not apply the web-reception schedule")
