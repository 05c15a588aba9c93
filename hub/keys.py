"""Every Redis key and channel name Junban uses, built in one place.

Keys of one facility share the hash tag ``{facility}`` so that one Lua script touching a
queue's hash, stream and idempotency keys runs on a single Redis Cluster shard.
"""

from __future__ import annotations

import hashlib
import ipaddress

USERS = "jb:users"
"""hash: user name -> msgpack {hash, role, facility}."""
FACILITIES = "jb:facilities"
"""set of facility numbers."""
TOKEN_VERSIONS = "jb:users:tv"
"""hash: user name -> token version (int); a login token carrying an older ``tv`` is revoked."""
LAST_LOGINS = "jb:users:last"
"""hash: user name -> epoch seconds of its last successful login (the staff page shows it)."""
OPERATOR_AUDIT = "jb:audit:ops"
"""stream: the operator's actions and account events (logins, throttled logins), append-only."""
CONTRACT_IDS = "jb:{contracts}:ids"
"""set: every contract id. All contract keys share the hash tag ``{contracts}`` so one
MULTI updates a contract and its indexes on one Redis Cluster shard."""
CONTRACTS_BY_FACILITY = "jb:{contracts}:fac"
"""hash: facility number -> id of the contract that covers it (Art. 5: one facility)."""
CONTRACTS_DUE = "jb:{contracts}:due"
"""sorted set: contract id scored by the epoch second its facility must next be brought in
line with it (now after a change; later for a cancellation or discontinuation date)."""
FACILITY_SEQUENCE = "jb:facilities:seq"
"""string counter: the last facility number the operator API assigned by itself."""
SCHEDULED = "jb:facilities:scheduled"
"""set: the numbers of the facilities with a weekly web-reception schedule (the scheduler
reads only these)."""


def contract(contract_id: str) -> str:
    """string: msgpack of one contract record (hub.contracts.store)."""
    return f"jb:{{contracts}}:c:{contract_id}"


def contract_lock(contract_id: str) -> str:
    """string: the holder token of one contract's lock (redis-py ``Lock``, hub.contracts.store)."""
    return f"jb:{{contracts}}:c:{contract_id}:lock"


def client_network(address: str) -> str:
    """The part of a client address that per-address limits are about: an IPv4 address as
    is, an IPv6 address's /64 (one subscriber's prefix, so a host cannot hop addresses)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def login_pair(user: str, address: str) -> str:
    """hash {f: failures, u: epoch ms before which the next attempt is refused}: one user
    name (existing or not) tried from one client network (``client_network``); TTL = the
    throttle's window after the last attempt. Tagged by the name: one slot with
    ``login_checks``."""
    return f"jb:{{login:{_digest(user)}}}:pair:{_digest(client_network(address))}"


def login_pairs(user: str) -> str:
    """set: the ``login_pair`` keys of one user name that have failures (for the clinic
    admin's unlock and the staff list's throttled state); TTL = the throttle's window."""
    return f"jb:{{login:{_digest(user)}}}:pairs"


def login_checks(user: str) -> str:
    """string: the GCRA 'theoretical arrival time' of the password checks of one user name
    for callers already throttled on it (across every address)."""
    return f"jb:{{login:{_digest(user)}}}:checks"


def audit(facility_number: str) -> str:
    """stream: staff and operator actions on one facility, append-only (hub.audit)."""
    return f"jb:{{{facility_number}}}:audit"


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


def summaries(info: str) -> str:
    """hash: date -> msgpack ``DaySummary`` of the queue's day (hub.analytics; names no one,
    kept for years)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:sum"


def summary_cursor(info: str) -> str:
    """hash: id, v, day, state: the ``day_started`` entry of the queue's first day not yet
    summarised and the state right after it (hub.analytics.store); cal: the cursor's day
    when the queue's estimate ranges were last learnt (hub.analytics.service)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:sumcur"


def summary_claim(info: str) -> str:
    """string: a redis-py ``Lock`` (60 s) held by the hub whose analytics keeper is
    summarising the queue's ended days, so the other hubs leave them to it."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:sumclaim"


def book(info: str, day: str) -> str:
    """hash: v, state (msgpack ``Book``): the queue's bookings for that date (hub.booking);
    expires 8 days after the date (personal data)."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:book:{day}"


def book_log(info: str, day: str) -> str:
    """stream: the events of that date's booking book, fields v, e (msgpack); expires with it."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:blog:{day}"


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


def pairing(facility_number: str, code: str) -> str:
    """string "1": a not-yet-claimed monitor pairing code of that facility (TTL 10 min)."""
    return f"jb:{{{facility_number}}}:pairing:{code}"


def pairing_failures(facility_number: str, address: str) -> str:
    """string counter: wrong pairing claims at one facility from one client network
    (``client_network``); TTL = a code's lifetime after the last wrong claim."""
    return f"jb:{{{facility_number}}}:pairfail:{_digest(client_network(address))}"


def kiosk_pairing(facility_number: str, code: str) -> str:
    """string "1": a not-yet-claimed kiosk pairing code of that facility (TTL 10 min); apart
    from the monitor codes, so a monitor code never pairs a kiosk nor the reverse."""
    return f"jb:{{{facility_number}}}:kpairing:{code}"


def short_link(facility_number: str, code: str) -> str:
    """string ``info/ticket id``: the ticket behind the short link ``/t/{facility}/{code}``
    (hub.shortlinks); TTL = the end of the ticket's business day plus a grace."""
    return f"jb:{{{facility_number}}}:t:{code}"


def ticket_short_link(info: str, ticket_id: str) -> str:
    """string: the short link code of one ticket (one code per ticket); same TTL."""
    facility, counter = _split(info)
    return f"jb:{{{facility}}}:{counter}:tlink:{ticket_id}"


def schedule_fired(facility_number: str, transition: str) -> str:
    """string "1": the schedule's transition ``transition`` (``day:HH:MM:open|close``) of
    that facility was applied (SET NX: once across hubs and restarts); TTL 2 days."""
    return f"jb:{{{facility_number}}}:sched:{transition}"


def rate(scope: str, subject: str, facility_number: str | None = None) -> str:
    """string: the GCRA 'theoretical arrival time' of one rate-limited subject."""
    tag = f"{{{facility_number}}}" if facility_number else "rl"
    return f"jb:{tag}:rate:{scope}:{subject}"


OUTBOX_WAKE = "jb:outbox:wake"
"""pub/sub channel: the number of a facility whose outbox has new entries (append.lua
publishes it after each XADD; the outbox runners subscribe to it)."""


def outbox(facility_number: str) -> str:
    """stream: the facility's outbox, one entry per committed queue batch (fields info, v,
    epoch, kinds, e), written in the same Lua call as the events (hub/queue/lua/append.lua)."""
    return f"jb:{{{facility_number}}}:outbox"


def outbox_lease(facility_number: str, group: str) -> str:
    """string, PX 30 s: the consumer (``{host}:{pid}``) serving that group of the outbox."""
    return f"jb:{{{facility_number}}}:outbox:lease:{group}"


def outbox_dead(facility_number: str) -> str:
    """stream: poison outbox entries (group, deliveries, error, entry), kept until replayed."""
    return f"jb:{{{facility_number}}}:outbox:dead"


def outbox_trim(facility_number: str, day: str) -> str:
    """string "1": the facility's outbox was trimmed to 8 days on that UTC day (SET NX: once
    across processes; hub.outbox.runner); TTL 2 days."""
    return f"jb:{{{facility_number}}}:outbox:trim:{day}"


def endpoint(facility_number: str, endpoint_id: str) -> str:
    """string: msgpack of one integration endpoint's config (secrets sealed)."""
    return f"jb:{{{facility_number}}}:ep:{endpoint_id}"


def endpoints(facility_number: str) -> str:
    """set: the ids of the facility's integration endpoints."""
    return f"jb:{{{facility_number}}}:eps"


def endpoint_queue(facility_number: str, endpoint_id: str) -> str:
    """stream: that endpoint's pending integration events, in order."""
    return f"jb:{{{facility_number}}}:ep:{endpoint_id}:q"


def endpoint_state(facility_number: str, endpoint_id: str) -> str:
    """hash: that endpoint's head-of-line dispatch state (head event id, attempt, first and
    next attempt times, failing since) (hub/integrations/dispatch.py)."""
    return f"jb:{{{facility_number}}}:ep:{endpoint_id}:state"


def deliveries(facility_number: str) -> str:
    """stream: delivery attempts of the facility's endpoints (kept 30 days)."""
    return f"jb:{{{facility_number}}}:deliveries"


def apikeys(facility_number: str) -> str:
    """hash: partner API key digest -> key record (hub.apikeys)."""
    return f"jb:{{{facility_number}}}:apikeys"


def apikeys_used(facility_number: str) -> str:
    """hash: ``{key id}:n`` -> uses, ``{key id}:t`` -> epoch seconds of the last use of each
    partner API key (hub.apikeys; written at most once a second per key and process)."""
    return f"jb:{{{facility_number}}}:apikeys:used"


# -- notifications and phone call-out (issue 17; docs/notifications.md) ----------------------


def ntf(facility_number: str, ticket_id: str) -> str:
    """hash, TTL two days after the ticket's day: channel -> sealed target JSON, and
    ``threshold`` (hub/notify/store.py)."""
    return f"jb:{{{facility_number}}}:ntf:{ticket_id}"


def ntf_tickets(facility_number: str) -> str:
    """hash: ticket id -> JSON {channels, threshold, day, near_done} (the notify worker's
    index of the subscribed tickets)."""
    return f"jb:{{{facility_number}}}:ntf:tickets"


def ntf_sent(facility_number: str, ticket_id: str, trigger: str, n: int) -> str:
    """string: the claim (SET NX EX 120 s) of one (ticket, trigger, n) notification, then
    ``sent`` (EX 2 days) once the channels accepted it."""
    return f"jb:{{{facility_number}}}:ntf:sent:{ticket_id}:{trigger}:{n}"


def notify_settings(facility_number: str) -> str:
    """string: JSON of the facility's notification settings (threshold_default, quiet_from,
    quiet_to)."""
    return f"jb:{{{facility_number}}}:ntf:settings"


def line_code(code: str) -> str:
    """string, EX 30 min: facility, info, ticket awaiting a LINE link with that code."""
    return f"jb:line:code:{code}"


def line_user(user_id: str) -> str:
    """set, TTL 3 days: ``{facility}/{ticket}`` the LINE user is bound to (an ``unfollow``
    removes those bindings; hub/notify/line.py)."""
    return f"jb:line:user:{user_id}"


def call_dedupe(facility_number: str, ticket_id: str, trigger: str) -> str:
    """string, EX 1 day: the phone call of that (ticket, trigger) (hub/phone/lua/place_call.lua)."""
    return f"jb:{{{facility_number}}}:call:dedupe:{ticket_id}:{trigger}"


def call(facility_number: str, call_id: str) -> str:
    """hash: the current state of one phone call."""
    return f"jb:{{{facility_number}}}:call:{call_id}"


def calls(facility_number: str) -> str:
    """stream: the state changes of the facility's phone calls (the call history)."""
    return f"jb:{{{facility_number}}}:calls"


def call_active(facility_number: str) -> str:
    """sorted set: the calls in progress, scored by their start (the concurrency limit)."""
    return f"jb:{{{facility_number}}}:call:active"


def call_count(facility_number: str, period: str) -> str:
    """string counter: the calls placed in that period (``YYYYMMDD`` or ``YYYYMM``)."""
    return f"jb:{{{facility_number}}}:call:n:{period}"


def phone_settings(facility_number: str) -> str:
    """string: msgpack of the facility's phone call-out settings."""
    return f"jb:{{{facility_number}}}:phone:settings"


def phone_provider(name: str) -> str:
    """string: msgpack of one phone provider's config (auth token sealed; operator-set)."""
    return f"jb:phone:provider:{name}"


def phone_known(facility_number: str) -> str:
    """hash: ticket id -> JSON {info, number, phone, status} of today's consenting tickets
    (the phone worker's index: a ticket that moves up is not in the outbox entry); TTL 2 d."""
    return f"jb:{{{facility_number}}}:phone:known"


def phone_consented(facility_number: str) -> str:
    """string: set (TTL 2 d) before a ticket with phone consent is issued: the phone group
    reads the facility's outbox only while it exists (``PhoneGroup.wants``)."""
    return f"jb:{{{facility_number}}}:phone:consented"


def phone_pending(facility_number: str) -> str:
    """sorted set: JSON {ticket, trigger, attempt, …} of calls waiting for their time (a
    retry after a busy line, a call deferred while 2 were in progress), scored by due ms."""
    return f"jb:{{{facility_number}}}:phone:pending"


def phone_ticket_calls(facility_number: str) -> str:
    """hash: ticket id -> calls placed to it (at most 3; place_call.lua); TTL 2 days."""
    return f"jb:{{{facility_number}}}:phone:ticket_calls"
