"""The in-process registry: channel → local subscribers, and the latest state of each queue.

Guarantees: a publication is decoded once and encoded once per channel and codec (see
``Publication``); delivering it is a loop of plain writes of the same bytes, no task and
no encode per subscriber. Every subscriber gets states in version order and never one
older than what it already holds, so resuming with ``(epoch, v)`` sends nothing redundant.
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


class Subscriber(Protocol):
    def deliver(self, channel: Channel, pub: Publication) -> None:
        """Send ``pub`` on ``channel`` unless the subscriber already holds it or newer."""


class ChannelHub:
    """One per process; fed by the ``Bridge`` (Redis pub/sub), read by connections."""

    def __init__(self) -> None:
        self.subscribers: dict[str, dict[Subscriber, Channel]] = {}
        self.latest: dict[str, Publication] = {}
        self.watching: dict[str, int] = {}
        """info -> number of local channels that depend on it."""
        self.private: dict[str, set[str]] = {}
        """info -> names of its staff/ticket channels that have subscribers."""
        self.facility_infos: dict[str, tuple[str, ...]] = {}
        self.awaiting: dict[str, list[tuple[Subscriber, Channel]]] = {}
        self.bridge: Bridge | None = None
        self.deliveries = 0

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
        if not subs:
            del self.subscribers[channel.name]
            self._close(channel)

    def _infos_of(self, channel: Channel) -> Iterable[str]:
        if channel.info is not None:
            return (channel.info,)
        return self.facility_infos.get(channel.facility, ())

    def _open(self, channel: Channel) -> None:
        assert self.bridge is not None
        if channel.kind == "facility":
            if channel.facility in self.facility_infos:
                for info in self.facility_infos[channel.facility]:
                    self._watch(info)
            else:
                self.bridge.resolve_facility(channel.facility)
            return
        assert channel.info is not None
        self._watch(channel.info)
        if channel.private:
            self.private.setdefault(channel.info, set()).add(channel.name)

    def _close(self, channel: Channel) -> None:
        for info in self._infos_of(channel):
            self._unwatch(info)
        if channel.private and channel.info is not None:
            names = self.private.get(channel.info)
            if names is not None:
                names.discard(channel.name)
                if not names:
                    del self.private[channel.info]

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
        self.bridge.unwatch(info)

    def _send_current(self, sub: Subscriber, channel: Channel) -> None:
        assert self.bridge is not None
        if channel.private:
            assert channel.info is not None
            self.awaiting.setdefault(channel.info, []).append((sub, channel))
            self.bridge.request_snapshot(channel.info)
            return
        for info in self._infos_of(channel):
            pub = self.latest.get(info)
            if pub is not None and self.bridge.is_fresh(info):
                sub.deliver(channel, pub)
            else:
                self.awaiting.setdefault(info, []).append((sub, channel))
                self.bridge.request_view(info)

    # ---- what the bridge feeds in -------------------------------------------------------

    def offer_view(self, info: str, pub: Publication) -> None:
        """A public view of ``info`` (from pub/sub or a fetch): deliver it where it is new."""
        waiting = self.awaiting.pop(info, None)
        current = self.latest.get(info)
        if current is not None and not newer(pub.version, current.version):
            for sub, channel in waiting or ():
                if not channel.private:
                    sub.deliver(channel, current)
                else:
                    self.awaiting.setdefault(info, []).append((sub, channel))
            return
        if info not in self.watching:
            return
        self.latest[info] = pub
        self._fan_out(f"queue:{info}", pub)
        self._fan_out(f"facility:{info.partition('-')[0]}", pub)
        if waiting:
            private = [(s, c) for s, c in waiting if c.private]
            if private:
                self.awaiting.setdefault(info, []).extend(private)
        if info in self.private and self.bridge is not None:
            self.bridge.request_snapshot(info)

    def offer_snapshot(self, info: str, state: QueueState | None) -> None:
        """The full state of ``info``: the staff and ticket channels' views come from it."""
        waiting = [pair for pair in self.awaiting.pop(info, []) if pair[1].private]
        if state is None:
            return
        staff: Publication | None = None
        for name in list(self.private.get(info, ())):
            channel = next(iter(self.subscribers.get(name, {}).values()), None)
            if channel is None:
                continue
            if channel.kind == "staff":
                staff = staff or _publication(state, views.staff_view(state))
                self._fan_out(name, staff)
            elif channel.ticket is not None and channel.ticket in state.tickets:
                self._fan_out(name, _publication(state, views.ticket_view(state, channel.ticket)))
        for sub, channel in waiting:
            if channel.name in self.private.get(info, ()) and channel.ticket is not None:
                if channel.ticket not in state.tickets:
                    _gone(sub, channel)

    def facility_resolved(self, facility: str, infos: tuple[str, ...]) -> None:
        """The counters of a facility someone watches became known."""
        if facility in self.facility_infos:
            return
        self.facility_infos[facility] = infos
        channel_name = f"facility:{facility}"
        subs = self.subscribers.get(channel_name)
        if not subs:
            return
        for info in infos:
            self._watch(info)
        for sub, channel in list(subs.items()):
            self._send_current(sub, channel)

    def resynced(self) -> list[str]:
        """Infos to refetch after the pub/sub link came back (their state may have moved)."""
        return list(self.watching)

    def _fan_out(self, name: str, pub: Publication) -> None:
        subs = self.subscribers.get(name)
        if not subs:
            return
        for sub, channel in list(subs.items()):
            sub.deliver(channel, pub)
        self.deliveries += len(subs)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self.subscribers.values())


def _publication(state: QueueState, data: object) -> Publication:
    return Publication(state.epoch, state.version, orjson.dumps(data), state.info)


def _gone(sub: Subscriber, channel: Channel) -> None:
    notify = getattr(sub, "channel_gone", None)
    if notify is not None:
        notify(channel, "unknown_ticket", "no such ticket in today's queue")
