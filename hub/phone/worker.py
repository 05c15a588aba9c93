"""The ``phone`` outbox group: decides from each entry (``rules.triggers``) which consenting
tickets to call, inside the call window, and places the calls; on every pass it places the
due retries and reconciles calls whose callback never came."""

from __future__ import annotations

import logging
import time

from hub import keys
from hub.outbox.entry import OutboxEntry
from hub.phone import rules
from hub.phone.rules import Candidate
from hub.phone.service import DEFER_BUSY_S, PhoneService

log = logging.getLogger("junban")


def entry_time(entry: OutboxEntry) -> float:
    """The entry's commit time (its stream id's milliseconds)."""
    try:
        return int(entry.id.split("-", 1)[0]) / 1000
    except ValueError:
        return 0.0


class PhoneGroup:
    name = "phone"
    gap_s = 1.0
    """Woken passes of one facility at most every second (the design's bar: a call request
    within 2 s of its entry); each pass reads the facility's settings and known tickets."""

    def __init__(self, service: PhoneService) -> None:
        self.service = service

    async def wants(self, facility: str) -> bool:
        """The option, and a ticket with phone consent in the last two days (marked before
        its entry was written, ``keys.phone_consented``)."""
        record = await self.service.facilities.cached(facility)
        if record is None or not record.has_option("phone"):
            return False
        return bool(await self.service.store.redis.exists(keys.phone_consented(facility)))

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        record = await self.service.facilities.cached(facility)
        if record is None or not record.has_option("phone"):
            return
        store = self.service.store
        settings = await store.settings(facility)
        before = known = await store.known(facility)
        now = time.time()
        for entry in entries:
            decision = rules.triggers(entry.info, entry.body, known, settings)
            known = decision.known
            if now - entry_time(entry) > rules.STALE_ENTRY_S:
                continue  # too late to help: acknowledged without calling
            for c in decision.candidates:
                await self._call(facility, c, now)
        await store.save_known(facility, before, known)

    async def _call(self, facility: str, c: Candidate, now: float) -> None:
        record = await self.service.facilities.cached(facility)
        if record is None:
            return
        settings = await self.service.store.settings(facility)
        if not self.service.in_window(settings, record.tz, now):
            log.info(
                "phone: %s %s of %s skipped: outside the call window", c.trigger, c.number, c.info
            )
            return
        outcome, _ = await self.service.place(record, settings, c, "auto", now)
        if outcome == "busy":
            item = {
                "ticket": c.ticket_id,
                "trigger": c.trigger,
                "attempt": c.attempt,
                "ahead": c.ahead,
            }
            await self.service.store.defer(facility, item, now + DEFER_BUSY_S)
        elif outcome not in ("ok", "duplicate"):
            log.info("phone: %s call to ticket %s not placed: %s", c.trigger, c.number, outcome)

    async def idle(self, facility: str, full: bool) -> None:
        now = time.time()
        store = self.service.store
        due = await store.due(facility, now)
        if due:
            known = await store.known(facility)
            for item in due:
                k = known.get(str(item.get("ticket")))
                if k is None or k.status != "waiting":
                    continue  # retries only while the ticket still waits
                ahead = item.get("ahead")
                c = Candidate(
                    str(item["ticket"]),
                    k.info,
                    k.number,
                    k.phone,
                    str(item["trigger"]),
                    ahead if isinstance(ahead, int) else None,
                    int(item.get("attempt", 1)),
                )
                await self._call(facility, c, now)
        await self.service.reconcile(facility, now)
