"""Bookings, pure (clinic-operations.md): ``BookingDay`` drives one queue and today's booking
book as ``hub/booking/service.py`` does (book, cancel, check in: ``rules.window``,
``AdmitBooking``, ``MarkCheckedIn``, ``SetBands``; the keeper) among walk-ins, priority
tickets, calls, absences, requeues and the clock, and checks what placement and the
estimates promise after every step. No Redis."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import msgspec
from hypothesis import event as count_outcome
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hub.booking import model as bm
from hub.booking import rules as book_rules
from hub.booking.config import BookingConfig, band_times
from hub.booking.views import band_counts, bands_command
from hub.errors import JunbanError
from hub.queue import estimate, placement, rules, views
from hub.queue import model as qm
from hub.queue.events import DayStarted, Event, QueueCreated
from tests.booking import strategies as B

EPS = 1e-9
PICK = st.integers(0, 10_000)
WAITS = B.waits()
LOSE = st.sampled_from([False] * 7 + [True])
EDGES = st.sampled_from(["minutes", "minutes", "opens", "ends", "closes"])
SECONDS = st.sampled_from([0.0, 0.0, -1.0, 1.0])
Outcome = list[Event] | list[bm.BookEvent] | JunbanError


class BookingDay(RuleBasedStateMachine):
    """One clinic day, from up to 90 minutes before its first band to 23:30."""

    def __init__(self) -> None:
        super().__init__()
        self.state = qm.QueueState(info=B.INFO, epoch=B.EPOCH)
        self.config, self.day, self.book = BookingConfig(), "", bm.Book(B.INFO, "")
        self.now = self.last = 0.0
        self.serial = self.walk_ins = 0
        self.middle_exit = False  # a waiting ticket left the line from behind its head

    # ---- helpers ----------------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        self.now = min(self.now + seconds, self.last)

    def run(self, cmd: qm.Command) -> Outcome:
        """The queue command now (``rules.decide``, then ``evolve``); its events or refusal."""
        cmd = replace(cmd, at=self.now)
        try:
            events = rules.decide(self.state, cmd)
        except JunbanError as err:
            note(f"{type(cmd).__name__} -> refused {err.code}")
            return err
        note(f"{cmd!r} -> {events!r}")
        assert self.state.day == "" or not any(isinstance(e, DayStarted) for e in events)
        self.state = rules.evolve_all(self.state, events)
        return events

    def run_book(self, cmd: bm.BookCommand) -> Outcome:
        """The book command (``decide``, then ``apply`` each event); refused: unchanged."""
        before = self.book.copy()
        try:
            events = book_rules.decide(self.book, cmd)
        except JunbanError as err:
            assert self.book == before, "a refused command changed the book"
            return err
        note(f"{cmd!r} -> {events!r}")
        for e in events:
            book_rules.apply(self.book, e)
        return events

    def mark(self, kind: type[bm.MarkCheckedIn | bm.MarkNoShow], booking_id: str) -> None:
        self.expect_done(self.run_book(kind(at=self.now, booking_id=booking_id)))

    def expect_done(self, outcome: Outcome) -> None:
        assert not isinstance(outcome, JunbanError), f"refused: {outcome.code} {outcome}"

    def expect_refused(self, outcome: Outcome, code: str) -> None:
        assert isinstance(outcome, JunbanError), f"expected {code}, got {outcome!r}"
        assert outcome.code == code, f"expected {code}, got {outcome.code}"

    def sync(self) -> None:
        """``BookingService.sync_bands``: today's counts into the queue."""
        self.expect_done(self.run(bands_command(self.config, self.book, B.TOKYO, 0.0)))

    def pick_booking(self, pick: int, open_only: bool = False) -> bm.Booking | None:
        bookings = list(self.book.bookings.values())
        if open_only:
            bookings = [b for b in bookings if b.status in ("booked", "no_show")] or bookings
        return bookings[pick % len(bookings)] if bookings else None

    def window(self, booking: bm.Booking) -> book_rules.Window:
        return book_rules.window(self.config, self.day, booking, B.TOKYO, self.now)

    # ---- the day ----------------------------------------------------------------------------

    @initialize(
        day=B.days(),
        config=B.booking_configs(),
        pace=st.sampled_from([2.0, 5.0, 12.5]),
        early=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=12),
        walk_ins=st.integers(0, 6),
        lead=st.integers(0, 90),
    )
    def morning(
        self,
        day: date,
        config: BookingConfig,
        pace: float,
        early: list[tuple[int, bool]],
        walk_ins: int,
        lead: int,
    ) -> None:
        """The day starts ``lead`` minutes before the first band (whole minutes)."""
        self.day, self.config = day.isoformat(), config
        self.book = bm.Book(B.INFO, self.day)
        self.now = B.at(self.day, config.bands[0].start) - lead * 60
        self.last = B.at(self.day, "23:30")
        queue = qm.QueueConfig(tz=B.TOKYO, default_minutes=pace, bookings=config)
        created = QueueCreated(at=self.now, info=B.INFO, config=queue)
        self.state = rules.evolve_all(self.state, [created])
        self.expect_done(self.run(qm.Configure(at=0.0, config=queue)))
        self.expect_done(self.run(qm.OpenReception(at=0.0)))
        for band, staff in early:
            self.make_booking(band, staff, 0.0)
        for _ in range(walk_ins):
            self.walk_in(False, 0.0)
        self.sync()  # the keeper at day start

    def _as_queue_sees(self) -> bm.Book:
        """The book with the bookings the queue admitted as checked in (a lost second step
        is recorded by the keeper later; the queue counts the arrival at once)."""
        seen = self.book.copy()
        for bid, b in seen.bookings.items():
            if b.status == "booked" and bid in self.state.tickets:
                seen.bookings[bid] = msgspec.structs.replace(b, status="checked_in")
        return seen

    @rule(minutes=st.integers(1, 90), band=st.integers(0, 3), edge=EDGES, second=SECONDS)
    def tick(self, minutes: int, band: int, edge: str, second: float) -> None:
        """The clock: minutes on, or to an edge of a band's check-in window (to the second)."""
        c = self.config
        start, end = band_times(self.day, c.bands[band % len(c.bands)], B.TOKYO)
        edges = {"opens": start - c.early_min * 60, "ends": end, "closes": end + c.late_min * 60}
        at = edges.get(edge, self.now + minutes * 60.0) + second
        self.wait(max(at - self.now, 0.0))

    # ---- the booking book -------------------------------------------------------------------

    @rule(band=st.integers(0, 3), staff=st.booleans(), wait=WAITS)
    def make_booking(self, band: int, staff: bool, wait: float) -> None:
        self.wait(wait)
        chosen = self.config.bands[band % len(self.config.bands)]
        start, end = band_times(self.day, chosen, B.TOKYO)
        taken = self.book.taken(chosen.start)
        self.serial += 1
        bid = B.booking_id(self.day, self.serial)
        channel = "desk" if staff else "web"
        cmd = bm.MakeBooking(self.now, bid, chosen.start, self.config, B.TOKYO, channel, staff)
        cmd = replace(cmd, name=f"name:{bid}", phone="tel:090")
        outcome = self.run_book(cmd)
        if self.now >= (end if staff else start):
            self.expect_refused(outcome, "band_closed")
        elif taken >= chosen.capacity:
            self.expect_refused(outcome, "band_full")
        else:
            self.expect_done(outcome)
            assert self.book.bookings[bid].status == "booked"
        self.sync()

    @rule(pick=PICK, staff=st.booleans(), wait=WAITS)
    def cancel_booking(self, pick: int, staff: bool, wait: float) -> None:
        self.wait(wait)
        booking = self.pick_booking(pick)
        if booking is None or booking.id in self.state.tickets:
            return  # a check-in half done: its cancel is accepted (reported; the examples)
        cmd = bm.CancelBooking(at=self.now, booking_id=booking.id, staff=staff, tz=B.TOKYO)
        outcome = self.run_book(cmd)
        if booking.status != "booked":
            self.expect_refused(outcome, "illegal_transition")
        elif not staff and self.now >= B.at(self.day, booking.band):
            self.expect_refused(outcome, "band_closed")
        else:
            self.expect_done(outcome)
            assert self.book.bookings[booking.id].status == "cancelled"
        self.sync()

    @rule(pick=PICK, staff=st.booleans(), lose_second_step=LOSE, wait=WAITS)
    def check_in(self, pick: int, staff: bool, lose_second_step: bool, wait: float) -> None:
        """``BookingService.check_in``; now and then the book's step is lost (the keeper
        repairs it) and a retry meets the queue's ``duplicate_ticket``."""
        self.wait(wait)
        booking = self.pick_booking(pick, open_only=pick % 4 != 0)
        if booking is None or booking.status in ("checked_in", "cancelled"):
            return  # the same ticket, or none (the invariants check both)
        where = self.window(booking)
        if booking.status == "no_show":  # staff may still admit it: at the end, late
            where = "no_show"
        count_outcome(f"check-in: {where}")
        if where == "too_early":
            return
        if where == "no_show" and not staff:
            if booking.status == "booked":
                self.mark(bm.MarkNoShow, booking.id)
            self.sync()
            return
        before = self.state
        index = self.admit(booking, late=where != "on_time")
        if lose_second_step:
            return
        self.mark(bm.MarkCheckedIn, booking.id)
        self.sync()
        if index is not None:
            self.check_estimates(before)

    def admit(self, booking: bm.Booking, late: bool) -> int | None:
        """The queue's half of a check-in; where the ticket went (None: refused, a second)."""
        s, band_start = self.state, B.at(self.day, booking.band)
        label = f"{booking.band}-{booking.band_end}"
        outcome = self.run(qm.AdmitBooking(0.0, booking.id, label, band_start, late=late))
        if booking.id in s.tickets:
            self.expect_refused(outcome, "duplicate_ticket")
            return None
        self.expect_done(outcome)
        index = self.state.waiting.index(booking.id)
        ticket = self.state.tickets[booking.id]
        assert (ticket.channel, ticket.number, ticket.late) == ("reserved", s.last_number + 1, late)
        others = [t for t in self.state.waiting if t != booking.id]
        assert others == s.waiting, "placing a booking moved a ticket already in line"
        size, floor = len(s.waiting), B.floor_of(s)
        if late:
            assert index == size, "a late check-in not at the end"
            return index
        assert floor <= index <= size, "placed before a priority ticket or an earlier booking"
        name, k = self.config.policy()
        count_outcome(f"placed: {name}, {'end' if index == size else 'inside'}")
        if name == "band_first":
            assert index == floor
        elif name == "interleave":  # after at most k others; exactly k unless at the end
            assert index - floor <= k and (index == size or index - floor == k)
        else:  # the place whose call (pace × places) is nearest the band's start
            target = max(band_start - self.now, 0.0) / 60.0 / s.minutes_per_patient
            assert all(abs(index - target) <= abs(i - target) + EPS for i in range(floor, size + 1))
        return index

    def check_estimates(self, before: qm.QueueState) -> None:
        """Each walk-in's estimate at the check-in's instant, before and after it."""
        then = before.copy()
        then.updated_at = self.now
        after, now = self.state, self.now
        assert after.updated_at == now
        rate, pace = self.config.show_rate, after.minutes_per_patient
        name, k = self.config.policy()
        for tid in before.waiting:
            if before.tickets[tid].channel == "reserved" or before.tickets[tid].priority:
                continue  # bookings never go ahead of these: no expected ones counted
            a0, a1 = before.waiting.index(tid), after.waiting.index(tid)
            g0 = placement.expected_ahead(then, a0, now)
            g1 = placement.expected_ahead(after, a1, now)
            e0 = views.ticket_view(then, tid)["estimate_min"]
            e1 = views.ticket_view(after, tid)["estimate_min"]
            assert e0 == estimate.wait_minutes(a0 + g0, pace)
            assert e1 == estimate.wait_minutes(a1 + g1, pace)
            rise = (a1 + g1) - (a0 + g0)
            if a1 == a0:  # placed behind it: the ghost it counted is gone
                assert -rate - EPS <= rise <= EPS
                assert 0 <= e0 - e1 <= math.ceil(rate * pace)
                count_outcome("estimate: behind a walk-in")
                continue
            assert a1 == a0 + 1
            assert rise >= 1 - rate - EPS and e1 >= e0, "a passed walk-in's estimate dropped"
            c0, c1 = B.counted(then, a0, now), B.counted(after, a1, now)
            if set(c1) - set(c0):
                count_outcome("estimate: a later band now opens before the call")
                continue
            if name == "interleave" and (
                sum(c0.values()) * rate > math.ceil(a0 / k)
                or sum(c1.values()) * rate > math.ceil(a1 / k)
            ):
                count_outcome("estimate: interleave cap")
                assert rise <= 2 + EPS
                continue
            count_outcome("estimate: passed")
            assert rise <= 1 - rate + EPS, f"rose by {rise} places"
            assert e1 - e0 <= math.ceil((1 - rate) * pace)

    @rule(wait=WAITS)
    def keeper(self, wait: float) -> None:
        """``BookingService.keep_queue``: no-shows, a lost second step, the counts."""
        self.wait(wait)
        for booking in list(self.book.bookings.values()):
            if booking.status not in ("booked", "no_show"):
                continue
            if booking.id in self.state.tickets:
                self.mark(bm.MarkCheckedIn, booking.id)
            elif booking.status == "booked" and self.window(booking) == "no_show":
                self.mark(bm.MarkNoShow, booking.id)
        self.sync()

    @rule(pick=PICK)
    def admit_again(self, pick: int) -> None:
        reserved = [t for t in self.state.tickets.values() if t.channel == "reserved"]
        if reserved:
            again, before = reserved[pick % len(reserved)], self.state
            cmd = qm.AdmitBooking(0.0, again.id, again.band or "", 0.0)
            self.expect_refused(self.run(cmd), "duplicate_ticket")
            assert self.state is before

    # ---- the live line ----------------------------------------------------------------------

    @rule(priority=st.sampled_from([False, False, False, True]), wait=WAITS)
    def walk_in(self, priority: bool, wait: float) -> None:
        self.wait(wait)
        self.walk_ins += 1
        self.expect_done(
            self.run(qm.IssueTicket(0.0, f"w{self.walk_ins}", "desk", priority=priority))
        )

    @rule(room=st.sampled_from(["1", "2"]), wait=WAITS)
    def call_next(self, room: str, wait: float) -> None:
        self.wait(wait)
        head = self.state.waiting[:1]
        outcome = self.run(qm.CallNext(at=0.0, room=room))
        if not head:
            self.expect_refused(outcome, "queue_empty")
        else:
            assert self.state.tickets[head[0]].status == "called"

    @rule(pool=st.sampled_from(["calling", "calling", "waiting"]), gone=st.booleans(), pick=PICK)
    def leave_the_line(self, pool: str, gone: bool, pick: int) -> None:
        """Marked absent, or walked out (cancelled): mostly a called ticket, now and then one
        still waiting (from the middle of the line, too)."""
        ids = self.state.calling if pool == "calling" else self.state.waiting
        if ids:
            ticket_id = ids[pick % len(ids)]
            if ticket_id in self.state.waiting[1:]:
                self.middle_exit = True
            cmd = qm.Cancel(0.0, ticket_id, "patient") if gone else qm.MarkAbsent(0.0, ticket_id)
            self.expect_done(self.run(cmd))

    @rule(pick=PICK, to_end=st.booleans(), wait=WAITS)
    def requeue(self, pick: int, to_end: bool, wait: float) -> None:
        self.wait(wait)
        ids = [t.id for t in self.state.tickets.values() if t.status in ("absent", "called")]
        if ids:
            ticket_id = ids[pick % len(ids)]
            self.expect_done(self.run(qm.Requeue(at=0.0, ticket_id=ticket_id, to_end=to_end)))
            assert self.state.tickets[ticket_id].requeued

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def no_band_overbooked_and_one_booking_is_one_ticket_at_most(self) -> None:
        s, bookings = self.state, self.book.bookings
        assert all(self.book.taken(b.start) <= b.capacity for b in self.config.bands)
        reserved = {tid for tid, t in s.tickets.items() if t.channel == "reserved"}
        assert reserved <= set(bookings)
        assert {b.id for b in bookings.values() if b.status == "checked_in"} <= reserved
        assert all(bookings[tid].status != "cancelled" for tid in reserved)
        assert len(set(s.waiting)) == len(s.waiting) and s.last_number == len(s.tickets)
        assert s.bands == band_counts(self.config, self._as_queue_sees(), B.TOKYO)

    @invariant()
    def no_booking_waits_before_a_priority_ticket_in_its_place(self) -> None:
        lane = [self.state.tickets[t] for t in self.state.waiting]
        lane = [t for t in lane if not t.requeued]
        first = next((i for i, t in enumerate(lane) if t.channel == "reserved"), len(lane))
        assert not any(t.priority for t in lane[first:])

    @invariant()
    def bookings_wait_in_check_in_order(self) -> None:
        lane = [self.state.tickets[t] for t in self.state.waiting]
        lane = [t for t in lane if t.channel == "reserved" and not t.requeued]
        on_time = [t.number for t in lane if not t.late]
        assert on_time == sorted(on_time)
        for band in {t.band for t in lane}:
            numbers = [t.number for t in lane if t.band == band]
            assert numbers == sorted(numbers), f"band {band} out of check-in order"

    @invariant()
    def interleave_lets_at_most_k_of_one_side_pass_in_a_row(self) -> None:
        """A booking waits behind at most k others in a row (not counting tickets put back);
        bookings that passed a walk-in have at least k tickets between them. Only while no
        ticket has left the line from its middle (that merges runs)."""
        name, k = self.config.policy()
        if name != "interleave" or self.middle_exit:
            return
        s = self.state
        for i, tid in enumerate(s.waiting):
            t = s.tickets[tid]
            if t.channel == "reserved" and B.holds_place(t):
                assert B.run_ahead(s, i) <= k, f"{tid} waits behind more than {k} in a row"
            elif t.channel != "reserved" and not t.priority and not t.requeued:
                ahead = [s.tickets[other] for other in s.waiting[:i]]
                passed = [j for j, o in enumerate(ahead) if B.passed(o, t)]
                assert all(b - a > k for a, b in zip(passed, passed[1:], strict=False))


TestBookingDay = BookingDay.TestCase
TestBookingDay.settings = settings(max_examples=1000, stateful_step_count=50, deadline=None)
