"""The outbox's ``notify`` group: tells subscribed patients that their turn is near, that
they are called, called again, or marked absent (docs/notifications.md).

For each entry: ``rules.triggers`` decides from the entry alone (an entry older than 10
minutes decides nothing: it is acknowledged unsent). Outside the facility's notification
window nothing is sent (logged, never sent later). Each (ticket, trigger, n) is claimed
(``SET NX EX 120``) before sending, so two processes or a restart send it once; the
subscription is re-read right before the send (an opt-out acts at once); a target the
channel reports gone is dropped if it is still the same; once a channel accepted it the
claim becomes ``sent`` for 2 days and the ticket gets the annotation ``notify.sent``. When
every channel asks to retry, the claim is released and the entry stays pending (the outbox
hands it again, and after 5 tries to the dead letters).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from hub.errors import JunbanError
from hub.notify import rules
from hub.notify.channels import NotifyChannel, SendResult
from hub.notify.messages import render
from hub.notify.rules import Subscribed, Trigger
from hub.notify.store import NotifyStore
from hub.outbox.entry import OutboxEntry
from hub.queue.facilities import Facility

log = logging.getLogger("junban")

GROUP = "notify"
DEFAULT_QUIET = ("21:00", "07:00")
"""The quiet hours (from, to) in facility time when the facility set none."""

Annotate = Callable[[str, str, str, str], Awaitable[None]]
RecordOf = Callable[[str], Awaitable[Facility | None]]


class RetryLater(Exception):
    """Every channel of a notification asked to be tried again (the entry stays pending)."""


class NotifyGroup:
    """The ``notify`` outbox group (hub.outbox.consumer.Group)."""

    name = GROUP

    def __init__(
        self,
        store: NotifyStore,
        channels: Mapping[str, NotifyChannel],
        annotate: Annotate,
        record_of: RecordOf,
        *,
        consumer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.channels = channels
        self.annotate = annotate
        self.record_of = record_of
        self.consumer = consumer
        self.clock = clock

    async def wants(self, facility: str) -> bool:
        return await self.store.has_any(facility)

    async def idle(self, facility: str, full: bool) -> None:
        return None

    async def handle(self, facility: str, entries: list[OutboxEntry]) -> None:
        index = await self.store.index(facility)
        if not index:
            return
        record = await self.record_of(facility)
        if record is None or record.suspended:
            return
        config = await self.store.settings(facility)
        quiet_from = str(config.get("quiet_from", DEFAULT_QUIET[0]))
        quiet_to = str(config.get("quiet_to", DEFAULT_QUIET[1]))
        for entry in entries:
            now = self.clock()
            found = rules.triggers(entry, index, now)
            if not found:
                continue
            if not rules.in_window(now, record.tz, quiet_from, quiet_to):
                log.info("notify %s: quiet hours, %d not sent", entry.info, len(found))
                continue
            for trigger in found:
                if await self._one(facility, record, entry, trigger, index[trigger.ticket_id]):
                    index = rules.after(index, [trigger])

    async def _one(
        self,
        facility: str,
        record: Facility,
        entry: OutboxEntry,
        trigger: Trigger,
        sub: Subscribed,
    ) -> bool:
        """Send one notification (claimed); whether it counts as sent."""
        tid, kind, n = trigger.ticket_id, trigger.trigger, trigger.n
        if not await self.store.claim(facility, tid, kind, n, self.consumer):
            return kind == "near"  # sent already (or by another process right now)
        try:
            accepted = await self._send(facility, record, entry, trigger, sub)
        except BaseException:
            await self.store.release(facility, tid, kind, n, self.consumer)
            raise
        if accepted is None:
            await self.store.release(facility, tid, kind, n, self.consumer)
            raise RetryLater(f"notify {entry.info}/{tid} {kind}: every channel asked to retry")
        await self.store.mark_sent(facility, tid, kind, n)
        if kind == "near":
            await self.store.near_done(facility, tid)
        if accepted:
            try:
                await self.annotate(entry.info, tid, "notify.sent", f"{kind}:{','.join(accepted)}")
            except JunbanError:
                pass  # not in today's queue any more: the message went, the note cannot
        return True

    async def _send(
        self,
        facility: str,
        record: Facility,
        entry: OutboxEntry,
        trigger: Trigger,
        sub: Subscribed,
    ) -> list[str] | None:
        """The channels that accepted (possibly none); None when all that were tried asked
        to retry."""
        targets = await self.store.targets(facility, trigger.ticket_id)  # re-read: opt-out
        ticket = entry.body.get("tickets", {}).get(trigger.ticket_id) or {}
        room = str(ticket.get("room") or "") if isinstance(ticket, dict) else ""
        message = render(facility, entry.info, record.name, trigger, sub.lang, room)
        accepted: list[str] = []
        retries = 0
        for name, (sealed, target) in sorted(targets.items()):
            channel = self.channels.get(name)
            if channel is None:  # this process lacks that channel's settings: not ours to
                # drop; retried (then a dead letter the operator sees), never marked sent
                log.warning(
                    "notify %s: channel %s is not configured in this process", facility, name
                )
                retries += 1
                continue
            try:
                result = await channel.send(target, message)
            except Exception as exc:  # a channel's bug must not stop the others
                result = SendResult(ok=False, retry=True, detail=type(exc).__name__)
            log.info(
                "notify %s/%s %s:%d via %s: %s",
                entry.info,
                trigger.ticket_id,
                trigger.trigger,
                trigger.n,
                name,
                "ok"
                if result.ok
                else "gone"
                if result.gone
                else "retry"
                if result.retry
                else "failed",
            )
            if result.ok:
                accepted.append(name)
            elif result.gone:
                await self.store.drop_if_same(facility, trigger.ticket_id, name, sealed)
            elif result.retry:
                retries += 1
        if not accepted and retries:
            return None
        return accepted
