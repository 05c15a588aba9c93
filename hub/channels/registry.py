"""The in-process registry: channel → local subscribers, and the latest state of each queue.

Guarantees: a publication is decoded once and encoded once per channel and codec (see
``Publication``); delivering it is a loop of plain writes of the same bytes, no task and
no encode per subscriber. Every subscriber gets states in version order and never one
older than what it already holds, so resuming with ``(epoch, v)`` sends nothing redundant.
Nothing is kept for a subscriber once it has unsubscribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import orjson

from hub.channels.names import Channel
from hub.channels.protocol import Publication, newer
from hub.queue import views
from hub.queue.model import QueueState

if TYPE_CHECKING:
    from hub.channels.bridge import Bridge

Waiter = tuple["Subscriber", str]
"""(subscriber, channel name) waiting for its first state."""


class Subscriber(Protocol):
    def deliver(self, channel: Channel, pub: Publication) -> None:
        """Send ``pub`` on ``channel`` unless the subscriber already holds it or newer."""

    def channel_gone(self, channel: Channel, code: str, message: str) -> None:
        """The channel cannot be served (unknown queue, facility or ticket): say so, drop it."""


class ChannelRegistry:
    """One per process; fed by the ``Bridge`` (Redis pub/sub), read by connections."""

    def __init__(self) -> None:
        self.subscribers: dict[str, dict[Subscriber, Channel]] = {}
        self.latest: dict[str, Publication] = {}
        self.watching: dict[str, int] = {}
        """info -> number of local channels that depend on it."""
        self.private: dict[str, set[str]] = {}
        """info -> names of its staff/ticket channels that have subscribers."""
        self.private_version: dict[str, tuple[str, int]] = {}
        self.facility_infos: dict[str, tuple[str, ...]] = {}
        self.awaiting: dict[str, dict[Waiter, Channel]] = {}
        self.bridge: Bridge | None = None

    # ---- subscriptions ------------------------------------------------------------------

    def subscribe(self, sub: Subscriber, channel: Channel) -> None:
        subs = self.subscribers.get(channel.name)
        if subs is None:
            subs = self.subscribers[channel.name] = {}
            self._open(channel)
        subs[sub] = channel
        self._send_current(sub, channel)

    def unsubscribe(self, sub: Subscriber, channel: Channel) -> None:
        subs = self.subscribers.get(channel.name)
        if subs is None or subs.pop(sub, None) is None:
            return
        for info in self._infos_of(channel):
            waiting = self.awaiting.get(info)
            if waiting is not None:
                waiting.pop((sub, channel.name), None)
        if not subs:
            del self.subscribers[channel.name]
            self._close(channel)

    def is_subscribed(self, sub: Subscriber, channel: Channel) -> bool:
        return self.subscribers.get(channel.name, {}).get(sub) is channel

    def unresolved_facilities(self) -> set[str]:
        return {
            name.partition(":")[2]
            for name in self.subscribers
            if name.startswith("facility:") and name.partition(":")[2] not in self.facility_infos
        }

    def _infos_of(self, channel: Channel) -> Iterable[str]:
        if channel.info is not None:
            return (channel.info,)
        return self.facility_infos.get(channel.facility, ())

    def _open(self, channel: Channel) -> None:
        assert self.bridge is not None
        if channel.kind == "facility":
            self.bridge.resolve_facility(channel.facility)
            return
        assert channel.info is not None
        self._watch(channel.info)
        if channel.private:
            self.private.setdefault(channel.info, set()).add(channel.name)

    def _close(self, channel: Channel) -> None:
        for info in self._infos_of(channel):
            self._unwatch(info)
        if channel.kind == "facility":
            self.facility_infos.pop(channel.facility, None)
        if channel.private and channel.info is not None:
            names = self.private.get(channel.info)
            if names is not None:
                names.discard(channel.name)
                if not names:
                    del self.private[channel.info]
                    self.private_version.pop(channel.info, None)

    def _watch(self, info: str) -> None:
        assert self.bridge is not None
        count = self.watching.get(info, 0)
        self.watching[info] = count + 1
        if count == 0:
            self.bridge.watch(info)

    def _unwatch(self, info: str) -> None:
        assert self.bridge is not None
        count = self.watching.get(info, 0) - 1
        if count > 0:
            self.watching[info] = count
            return
        self.watching.pop(info, None)
        self.latest.pop(info, None)
        self.awaiting.pop(info, None)
        self.private_version.pop(info, None)
        self.bridge.unwatch(info)

    def _send_current(self, sub: Subscriber, channel: Channel) -> None:
        assert self.bridge is not None
        if channel.private:
            assert channel.info is not None
            self.awaiting.setdefault(channel.info, {})[(sub, channel.name)] = channel
            self.bridge.request_snapshot(channel.info)
            return
        if channel.kind == "facility" and channel.facility not in self.facility_infos:
            return  # facility_resolved sends it
        for info in self._infos_of(channel):
            self._send_info(sub, channel, info)

    def _send_info(self, sub: Subscriber, channel: Channel, info: str) -> None:
        """Send ``info``'s current public view on ``channel`` (fetched first if not fresh)."""
        assert self.bridge is not None
        pub = self.latest.get(info)
        if pub is not None and self.bridge.is_fresh(info):
            sub.deliver(channel, pub)
        else:
            self.awaiting.setdefault(info, {})[(sub, channel.name)] = channel
            self.bridge.request_view(info)

    # ---- what the bridge feeds in -------------------------------------------------------

    def offer_view(self, info: str, pub: Publication | None) -> None:
        """A public view of ``info`` (from pub/sub or a fetch; None: the queue is unknown)."""
        waiting = self._take_waiting(info, private=False)
        if pub is None:  # (a facility channel waits: a counter's queue may be made next)
            for (sub, _), channel in waiting.items():
                if self.is_subscribed(sub, channel) and channel.kind != "facility":
                    sub.channel_gone(channel, code="unknown_queue", message="no such queue")
            return
        current = self.latest.get(info)
        if current is not None and not newer(pub.version, current.version):
            for (sub, _), channel in waiting.items():
                if self.is_subscribed(sub, channel):
                    sub.deliver(channel, current)
            return
        if info not in self.watching:
            return
        self.latest[info] = pub
        self._fan_out(f"queue:{info}", pub)
        facility = info.partition("-")[0]
        self._fan_out(f"facility:{facility}", pub)
        if (
            current is not None
            and facility in self.facility_infos
            and self.bridge is not None
            and _counters(pub) != _counters(current)
        ):
            self.bridge.resolve_facility(facility)  # a counter was added or removed
        if info in self.private and self.bridge is not None:
            self.bridge.request_snapshot(info)

    def offer_snapshot(self, info: str, state: QueueState | None) -> None:
        """The full state of ``info``: the staff and ticket channels' views come from it."""
        waiting = self._take_waiting(info, private=True)
        if state is None:
            for (sub, _), channel in waiting.items():
                sub.channel_gone(channel, code="unknown_queue", message="no such queue")
            return
        version = (state.epoch, state.version)
        if self.private_version.get(info) != version and info in self.private:
            self.private_version[info] = version
            targets = [self.subscribers.get(name, {}) for name in list(self.private[info])]
        else:  # nothing changed since the last pass: serve only the new subscribers
            targets = [{sub: ch} for (sub, _), ch in waiting.items()]
        staff: Publication | None = None
        for subs in targets:
            first = next(iter(subs.values()), None)
            if first is None:
                continue
            if first.kind == "staff":
                staff = staff or _publication(state, views.staff_view(state))
                self._deliver_all(subs, staff)
            elif first.ticket is not None and first.ticket in state.tickets:
                pub = _publication(state, views.ticket_view(state, first.ticket))
                self._deliver_all(subs, pub)
            else:
                for sub, ch in list(subs.items()):
                    sub.channel_gone(
                        ch, code="unknown_ticket", message="no such ticket in today's queue"
                    )

    def facility_resolved(self, facility: str, infos: tuple[str, ...]) -> None:
        """The counters of a facility someone watches became known (empty: no such one), or
        changed: a new counter's queue is watched and sent, a removed one is let go."""
        subs = self.subscribers.get(f"facility:{facility}")
        known = self.facility_infos.get(facility)
        if not subs or known == infos or (known is not None and not infos):
            return
        if not infos:
            for sub, channel in list(subs.items()):
                sub.channel_gone(channel, code="unknown_facility", message="no such facility")
            return
        self.facility_infos[facility] = infos
        added = [info for info in infos if known is None or info not in known]
        for info in added:
            self._watch(info)
        for info in [info for info in known or () if info not in infos]:
            self._unwatch(info)
        for sub, channel in list(subs.items()):
            if known is None:
                self._send_current(sub, channel)
            else:
                for info in added:
                    self._send_info(sub, channel, info)

    def _take_waiting(self, info: str, *, private: bool) -> dict[Waiter, Channel]:
        waiting = self.awaiting.get(info)
        if not waiting:
            return {}
        taken = {key: ch for key, ch in waiting.items() if ch.private == private}
        for key in taken:
            del waiting[key]
        if not waiting:
            del self.awaiting[info]
        return taken

    def _fan_out(self, name: str, pub: Publication) -> None:
        subs = self.subscribers.get(name)
        if subs:
            self._deliver_all(subs, pub)

    @staticmethod
    def _deliver_all(subs: dict[Subscriber, Channel], pub: Publication) -> None:
        for sub, channel in subs.items():
            sub.deliver(channel, pub)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self.subscribers.values())


def _publication(state: QueueState, data: object) -> Publication:
    return Publication(state.epoch, state.version, orjson.dumps(data), state.info)


def _counters(pub: Publication | None) -> object:
    """The facility's counters a public view names (its ``profile``; None before any)."""
    if pub is None:
        return None
    profile = pub.data().get("profile")
    return profile.get("counters") if isinstance(profile, dict) else None
