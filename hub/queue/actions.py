"""The use cases of one queue that the HTTP layer calls: read today's queue, take a ticket
under the facility's limits (Art. 37), and run a staff command.

A handler parses its request into the plain values these take and renders what they return;
every rule (who may issue which ticket, which limit applies, what "today" is) lives here or
in ``rules``, every Redis call in the stores.
"""

from __future__ import annotations

import hmac
import secrets
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

import orjson

from hub import keys, metrics
from hub.auth import Principal, Tokens
from hub.errors import Forbidden, NotFound, RateLimited, Unavailable
from hub.queue import annotate, calendar, rules, views
from hub.queue.events import DayStarted, Event
from hub.queue.facilities import FacilityStore
from hub.queue.model import (
    Annotate,
    Command,
    Configure,
    IssueTicket,
    LinkPatient,
    QueueConfig,
    QueueState,
)
from hub.queue.service import Idempotency, QueueService, Responder, answer_bytes
from hub.queue.store import QueueStore
from hub.ratelimit import RateLimiter
from hub.settings import Settings

KIOSK_RATE = (30, 60.0)
"""Tickets one paired kiosk may issue per minute (a burst of 30): a person taps one at a
time; a leaked kiosk token cannot flood the queue."""


@dataclass(frozen=True, slots=True)
class TicketOrder:
    """What a caller asks for when taking a ticket (the parsed body, and who asks)."""

    staff: bool
    """The caller is staff of the queue's facility (or the operator)."""
    client_ip: str
    channel: str | None = None
    name: str = ""
    phone: str = ""
    note: str = ""
    priority: bool = False
    kiosk: str | None = None
    """The facility of the caller's ``kiosk`` token, when a paired kiosk asks."""
    kiosk_subject: str = ""
    patient_ref: str | None = None
    """The patient-card number (診察券番号), when the form gave one (``[0-9A-Za-z-]{1,20}``)."""
    phone_consent: bool = False
    """Consent to phone call-outs: the patient's own (web), or spoken consent that staff
    record (desk, phone; ``kiosk_subject`` is then the staff subject)."""


RECOVER_RATE = (5, 600.0)
CONSENT_MARK_S = 2 * 86400
"""How long ``keys.phone_consented`` lasts after a ticket with phone consent (tickets live
one business day)."""
"""Ticket recoveries (number + phone) per client address and facility: 5 per 10 minutes."""


def phone_digits(phone: str) -> str:
    """A phone number's digits (full-width ones too); ``+81 90…`` is ``090…``."""
    text = unicodedata.normalize("NFKC", phone).strip()
    digits = "".join(c for c in text if c in "0123456789")
    return "0" + digits[2:] if text.startswith("+81") else digits


def _consented_phone(order: TicketOrder) -> str:
    """The number to call, as E.164 (400 ``invalid_phone`` when it is no Japanese number)."""
    from hub.phone.numbers import to_e164  # phonenumbers is loaded only when consent is given

    return to_e164(order.phone)


def _consent(order: TicketOrder, now: float) -> tuple[float, str, str]:
    from hub.phone.numbers import CONSENT_TEXT_VERSION

    by = order.kiosk_subject if order.staff and order.kiosk_subject else "patient"
    return (now, by, CONSENT_TEXT_VERSION)


@dataclass(frozen=True, slots=True)
class PublicView:
    """A queue's public view as stored (JSON bytes) with its version and epoch."""

    body: bytes
    version: int
    epoch: str


class QueueActions:
    """Every use case of a queue the web layer needs, over the stores and the writer."""

    def __init__(
        self,
        service: QueueService,
        store: QueueStore,
        facilities: FacilityStore,
        limiter: RateLimiter,
        tokens: Tokens,
        settings: Settings,
    ) -> None:
        self.service = service
        self.store = store
        self.facilities = facilities
        self.limiter = limiter
        self.tokens = tokens
        self.settings = settings

    async def public_view(self, info: str, now: float) -> PublicView:
        """Today's public view: a queue nobody has touched today is started first, so a
        monitor never shows yesterday's calls. 404 ``unknown_queue``."""
        found = await self.store.load_view(info)
        if found is None:
            raise NotFound("no such queue", code="unknown_queue")
        parsed = orjson.loads(found[0])
        if await self.service.roll_day_if_stale(info, parsed, now):
            found = await self.store.load_view(info) or found
            parsed = orjson.loads(found[0])
        return PublicView(body=found[0], version=found[1], epoch=str(parsed.get("epoch", "")))

    async def exists(self, info: str) -> bool:
        return await self.store.load_view(info) is not None

    async def today(self, info: str, now: float) -> QueueState:
        """The queue as of now: if no command has started today yet, yesterday's tickets
        are gone already (as the first command will make them), without writing anything.
        404 ``unknown_queue``."""
        state = await self.store.load(info)
        if state is None:
            raise NotFound("no such queue", code="unknown_queue")
        day = calendar.business_day(now, state.config.tz)
        return rules.evolve(state, DayStarted(at=now, day=day)) if day > state.day else state

    async def ticket_today(self, info: str, ticket_id: str, now: float) -> QueueState:
        """Today's queue, which holds ``ticket_id``; 404 ``unknown_ticket`` otherwise."""
        state = await self.today(info, now)
        if ticket_id not in state.tickets:
            raise NotFound("no such ticket in today's queue", code="unknown_ticket")
        return state

    async def ticket_answer(
        self, info: str, ticket_id: str, staff: bool, now: float
    ) -> dict[str, Any]:
        """One ticket as its patient (or, with personal data, staff) sees it. A ticket
        transferred to another counter carries ``moved``: that queue's information number,
        the ticket's page there and a patient token for it, so the page can follow."""
        state = await self.ticket_today(info, ticket_id, now)
        ticket = state.tickets[ticket_id]
        view = views.ticket_view(state, ticket_id)
        if staff:
            view["ticket"] = views.ticket_staff(ticket)
        if ticket.status == "transferred" and ticket.to_counter is not None:
            moved = f"{info.split('-', 1)[0]}-{ticket.to_counter}"
            view["moved"] = {
                "info": moved,
                "url": f"/q/{moved}/t/{ticket_id}",
                "token": self.tokens.patient(moved, ticket_id),
            }
        return view

    async def take_ticket(
        self, info: str, facility: str, order: TicketOrder, idem: Idempotency | None, now: float
    ) -> dict[str, Any]:
        """Issue a ticket: a web ticket for anyone (counted against Art. 37's limits), a
        desk, kiosk, phone or priority ticket for staff only. A retried Idempotency-Key gets
        its first ticket back before any limit is counted. The answer carries the ticket's
        view, the patient's token and the page URL. A paired kiosk issues kiosk tickets (and
        only those) at its own facility, ``KIOSK_RATE`` at most."""
        if order.patient_ref is not None:
            annotate.check_patient_ref(order.patient_ref)
        if order.kiosk is not None and not order.staff:
            return await self._kiosk_ticket(info, facility, order, idem, now)
        channel = order.channel or ("desk" if order.staff else "web")
        if not order.staff and (channel != "web" or order.priority):
            raise Forbidden("only staff may issue desk, kiosk, phone or priority tickets")
        if idem is not None:
            first = await self.service.replay(info, idem)
            if first is not None:
                return dict(first)
        phone = _consented_phone(order) if order.phone_consent else order.phone
        if order.phone_consent:  # before the entry exists: the phone group then reads it
            await self.store.redis.set(keys.phone_consented(facility), "1", ex=CONSENT_MARK_S)
        if not order.staff:
            await self.count_web_request(facility, order.client_ip)
        ticket_id = secrets.token_urlsafe(9)
        command = IssueTicket(
            at=now,
            ticket_id=ticket_id,
            channel=channel,
            name=order.name,
            note=order.note,
            priority=order.priority,
            patient_ref=order.patient_ref,
            phone=phone,
            phone_consent=_consent(order, now) if order.phone_consent else None,
            service_hours=self.settings.service_hours if channel == "web" else None,
        )

        def respond(state: QueueState) -> dict[str, Any]:
            return {
                **views.ticket_view(state, ticket_id),
                "token": self.tokens.patient(info, ticket_id),
                "url": f"/q/{info}/t/{ticket_id}",
            }

        result: dict[str, Any] = await self.service.execute(info, command, respond, idem)
        return result

    async def recover(
        self, info: str, number: int, phone: str, client_ip: str, now: float
    ) -> dict[str, Any]:
        """A ticket found again on another device by its number and the phone given with it:
        today's waiting or called tickets with a phone only. Every try counts against
        ``RECOVER_RATE``; any mismatch is the same 404 ``recovery_failed``."""
        facility = info.split("-", 1)[0]
        await self.limiter.hit([("recover", client_ip, RECOVER_RATE)], facility)
        state = await self.today(info, now)
        given = phone_digits(phone).encode()
        found = None
        for ticket in state.tickets.values():  # (a transferred-in ticket may share a number)
            if ticket.number != number or not ticket.phone:
                continue
            if hmac.compare_digest(phone_digits(ticket.phone).encode(), given):
                found = ticket
        if found is None or found.status not in ("waiting", "called") or len(given) < 4:
            raise NotFound(
                "no waiting ticket today with that number and phone", code="recovery_failed"
            )
        return {
            **views.ticket_view(state, found.id),
            "token": self.tokens.patient(info, found.id),
            "url": f"/q/{info}/t/{found.id}",
        }

    async def _kiosk_ticket(
        self, info: str, facility: str, order: TicketOrder, idem: Idempotency | None, now: float
    ) -> dict[str, Any]:
        if order.kiosk != facility:
            raise Forbidden("this kiosk belongs to another facility", code="forbidden")
        if (order.channel or "kiosk") != "kiosk" or order.priority:
            raise Forbidden("a kiosk issues kiosk tickets only", code="forbidden")
        kiosk_limit = [("kiosk", order.kiosk_subject, KIOSK_RATE)]
        await self.limiter.hit(kiosk_limit, facility)
        staffed = replace(order, staff=True, channel="kiosk", kiosk=None)
        return await self.take_ticket(info, facility, staffed, idem, now)

    async def count_web_request(self, facility: str, client_ip: str) -> None:
        """Art. 37: the facility's own limits when the operator set some (read from this
        process's 2-second cache of the record), else the global ones; one GCRA call."""
        record = await self.facilities.cached(facility)
        rate_ip = (record.rate_ip if record else None) or self.settings.rate_ip
        rate = (record.rate if record else None) or self.settings.rate_facility
        try:
            limits = [("ip", client_ip, rate_ip), ("facility", facility, rate)]
            await self.limiter.hit(limits, facility)
        except RateLimited:
            if record is not None and (record.rate or record.rate_ip):
                metrics.FACILITY_LIMITED.labels(facility).inc()
            raise

    async def run(
        self, info: str, command: Command, respond: Responder, idem: Idempotency | None
    ) -> Any:
        """Run one command on the queue (group-committed); ``respond(state after it)``."""
        return await self.service.execute(info, command, respond, idem)

    async def annotate(self, info: str, ticket_id: str, key: str, value: str) -> None:
        """Show an integration's outcome on today's ticket to staff (``emr.status`` …): a
        queue version when the value changed, no outbox entry. A ticket not in today's
        queue raises ``NotFound`` (``unknown_ticket``; the caller keeps it in its log)."""
        command = Annotate(at=time.time(), ticket_id=ticket_id, key=key, value=value)
        await self.service.execute(info, command, _nothing)

    async def set_patient_ref(
        self, info: str, ticket_id: str, patient_ref: str, who: Principal | None
    ) -> dict[str, Any]:
        """Staff link today's ticket to a patient-card number (after an EMR lookup); the
        answer is the ticket as staff see it. 400 ``invalid_patient_ref``, 404
        ``unknown_ticket``."""
        annotate.check_patient_ref(patient_ref)
        by = who.subject if who is not None else "staff"
        command = LinkPatient(at=time.time(), ticket_id=ticket_id, patient_ref=patient_ref, by=by)

        def respond(state: QueueState) -> dict[str, Any]:
            view = views.ticket_view(state, ticket_id)
            view["ticket"] = views.ticket_staff(state.tickets[ticket_id])
            return view

        result: dict[str, Any] = await self.service.execute(info, command, respond)
        return result

    async def transfer(
        self, info: str, ticket_id: str, to: str, idem: Idempotency | None, now: float
    ) -> dict[str, Any]:
        """Move a ticket to counter ``to`` of the same facility, keeping its id and number
        (``rules.decide_transfer``). Both queues change in ONE atomic append
        (``append_pair.lua``; the facility's keys share a hash tag): the ticket is never in
        neither line nor in both. A retry with the same Idempotency-Key gets the first
        answer; a repeat without one changes nothing (the rules are idempotent by ticket
        id). The per-queue writers of this process see the change as a version conflict
        and reload. 404 ``unknown_queue`` / ``unknown_ticket``, 409 ``illegal_transition``,
        422 when ``to`` is this counter."""
        target = f"{info.split('-', 1)[0]}-{to}"
        if idem is not None:
            first = await self.service.replay(info, idem)
            if first is not None:
                return dict(first)
        for _ in range(TRANSFER_ATTEMPTS):
            source_state = await self.store.load(info)
            target_state = source_state if target == info else await self.store.load(target)
            if source_state is None or target_state is None:
                raise NotFound("no such queue (counter)", code="unknown_queue")
            out, into = rules.decide_transfer(source_state, target_state, ticket_id, now)
            source_after, target_after = _after(source_state, out), _after(target_state, into)
            answer = _transferred(source_after, target_after, ticket_id)
            if not out and not into:
                return answer
            stored = None if idem is None else (idem.key, answer_bytes(idem, answer))
            outcome = await self.store.append_pair(
                (source_after, out), (target_after, into), stored
            )
            if outcome == "ok":
                return answer
            if outcome == "dup" and idem is not None:
                replayed = await self.service.replay(info, idem)
                if replayed is not None:
                    return dict(replayed)
        raise Unavailable("the queues are too busy, try again", code="busy")

    async def configure(
        self,
        info: str,
        facility: str,
        config: QueueConfig,
        idem: Idempotency | None,
        now: float,
        keep_bookings: bool = False,
    ) -> Any:
        """Set the queue's configuration; its time zone is always the facility's. With
        ``keep_bookings`` the queue's booking settings stay as they are."""
        record = await self.facilities.get(facility)
        if record is None:
            raise NotFound("no such queue", code="unknown_queue")
        if keep_bookings:
            current = await self.store.load(info)
            if current is None:
                raise NotFound("no such queue", code="unknown_queue")
            config = replace(config, bookings=current.config.bookings)
        command = Configure(
            at=now,
            config=replace(config, tz=record.tz),
            service_hours=self.settings.service_hours,
        )
        return await self.service.execute(info, command, views.staff_view, idem)


def _nothing(state: QueueState) -> None:
    return None


TRANSFER_ATTEMPTS = 20
"""Reload-and-decide rounds of a transfer that meets concurrent changes (version conflicts)."""


def _after(state: QueueState, events: list[Event]) -> QueueState:
    """The state after ``events``, one version up when there are any."""
    if not events:
        return state
    after = rules.evolve_all(state, events)
    after.version = state.version + 1
    return after


def _transferred(source: QueueState, target: QueueState, ticket_id: str) -> dict[str, Any]:
    """A transfer's answer: the ticket at its source (status transferred, ``to``) and, under
    ``moved``, at the target (waiting, ``from``) with the target's version."""
    view = views.ticket_view(source, ticket_id)
    view["ticket"] = views.ticket_staff(source.tickets[ticket_id])
    view["moved"] = {
        "info": target.info,
        "v": target.version,
        "epoch": target.epoch,
        "ticket": views.ticket_staff(target.tickets[ticket_id]),
        "ahead": views.ahead_of(target, ticket_id),
    }
    return view
