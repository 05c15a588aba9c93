"""Request bodies: their shapes (msgspec Structs, also the OpenAPI schemas) and safe reading.

A body that is too big is refused with 413 before it is read in full; bad JSON is 400
``bad_json``; the wrong shape or types are 422 ``invalid_body`` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec
from starlette.requests import Request

from hub.booking.config import ALL_DAYS, Band, BookingConfig
from hub.errors import BadRequest, PayloadTooLarge, Unprocessable
from hub.jsondepth import MAX_DEPTH, too_deep

Short = Annotated[str, msgspec.Meta(max_length=100)]
Room = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
Text = Annotated[str, msgspec.Meta(max_length=500)]
HHMM = Annotated[str, msgspec.Meta(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)\Z")]
FacilityNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,8}\Z")]
CounterNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}\Z")]


class TicketRequest(msgspec.Struct, kw_only=True):
    """Take a ticket. Patients send only name/phone/note (all optional); staff may set
    the channel (desk, kiosk, phone) and priority."""

    name: Short = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    note: Text = ""
    channel: Literal["web", "desk", "kiosk", "phone"] | None = None
    priority: bool = False
    patient_ref: str | None = None
    """The patient-card number (診察券番号), ``[0-9A-Za-z-]{1,20}`` (else 400
    ``invalid_patient_ref``); "" or null: none."""
    phone_consent: bool = False
    """Consent to phone call-outs (the phone option): the patient's own on the web, spoken
    consent recorded by staff at the desk or on the phone; ``phone`` must then be a Japanese
    number (else 400 ``invalid_phone``)."""


class PatientRefRequest(msgspec.Struct, kw_only=True):
    """Link a ticket to a patient-card number (staff, after an EMR lookup)."""

    patient_ref: str
    """``[0-9A-Za-z-]{1,20}``, else 400 ``invalid_patient_ref``."""


class CallRequest(msgspec.Struct, kw_only=True):
    room: Room = "1"


class TicketActionRequest(msgspec.Struct, kw_only=True):
    """Body of a ticket action: ``room`` for call, ``to_end`` for requeue (both optional)."""

    room: Room = "1"
    to_end: bool = False
    """True: to the end of the line; false: the queue's requeue_offset places back."""


class TransferRequest(msgspec.Struct, kw_only=True):
    """Move a ticket to another counter of the same facility (its next stage)."""

    to: CounterNumber


class MessageRequest(msgspec.Struct, kw_only=True):
    text: Text


class LoginRequest(msgspec.Struct, kw_only=True):
    user: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SuspendRequest(msgspec.Struct, kw_only=True):
    reason: Text = ""


# ---- time-band reservations (hub/web/bookings.py, docs/bookings.md) ------------------------

Day = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]


class BandRequest(msgspec.Struct, kw_only=True, rename={"start": "from", "end": "to"}):
    """One band: from, to (local HH:MM), capacity (1–500) and weekdays (1 = Monday … 7)."""

    start: HHMM
    end: HHMM
    capacity: Annotated[int, msgspec.Meta(ge=1, le=500)]
    days: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]], msgspec.Meta(max_length=7)] = (
        msgspec.field(default_factory=lambda: list(ALL_DAYS))
    )


class BookingSettingsRequest(msgspec.Struct, kw_only=True):
    """A counter's time-band reservations (docs/bookings.md)."""

    bands: Annotated[list[BandRequest], msgspec.Meta(max_length=48)]
    placement: Annotated[str, msgspec.Meta(max_length=20)] = "band_first"
    early_min: Annotated[int, msgspec.Meta(ge=0, le=180)] = 15
    late_min: Annotated[int, msgspec.Meta(ge=0, le=180)] = 15
    show_rate: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.9
    horizon_days: Annotated[int, msgspec.Meta(ge=0, le=60)] = 14
    check_in: Literal["anywhere", "on_site"] = "anywhere"
    closed_dates: Annotated[list[Day], msgspec.Meta(max_length=400)] = msgspec.field(
        default_factory=list
    )
    closed_on_holidays: bool = True

    def config(self) -> BookingConfig:
        return BookingConfig(
            bands=tuple(
                Band(start=b.start, end=b.end, capacity=b.capacity, days=tuple(sorted(set(b.days))))
                for b in self.bands
            ),
            placement=self.placement,
            early_min=self.early_min,
            late_min=self.late_min,
            show_rate=self.show_rate,
            horizon_days=self.horizon_days,
            check_in=self.check_in,
            closed_dates=tuple(sorted(set(self.closed_dates))),
            closed_on_holidays=self.closed_on_holidays,
        )


class BookingRequest(msgspec.Struct, kw_only=True):
    """Book a place in a band: the date, the band's start, the patient's name and phone
    (the 診察券番号 optional). Staff may set the channel (desk, phone)."""

    date: Day
    band: HHMM
    name: Short = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    patient_ref: str | None = None
    """The patient-card number, ``[0-9A-Za-z-]{1,20}``; "" or null: none."""
    channel: Literal["web", "desk", "phone"] | None = None


class ConfigRequest(msgspec.Struct, kw_only=True):
    web_daily_cap: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    requeue_offset: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 3
    default_minutes: Annotated[float, msgspec.Meta(ge=0.5, le=120)] = 5.0
    close_web_at: HHMM | None = None
    allow_checkin: bool = False
    allow_postpone: bool = False
    bookings: BookingSettingsRequest | None | msgspec.UnsetType = msgspec.UNSET
    """Time-band reservations; null: none; left out: as they are."""


class RecoverRequest(msgspec.Struct, kw_only=True):
    """Find a ticket again on another device: its number and the phone given with it."""

    number: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class FacilityRequest(msgspec.Struct, kw_only=True):
    number: FacilityNumber
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: Text = ""
    hours: Text = ""
    tz: Annotated[str, msgspec.Meta(max_length=64)] = "Asia/Tokyo"
    counters: dict[CounterNumber, Short] = msgspec.field(default_factory=lambda: {"01": ""})


class SessionBody(msgspec.Struct, kw_only=True):
    """One web-reception session of a weekday: ``start`` to ``end`` local time."""

    start: HHMM
    end: HHMM
    label: Annotated[str, msgspec.Meta(max_length=20)] = ""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DayText = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]


class SettingsRequest(msgspec.Struct, kw_only=True):
    """The clinic's settings. PATCH: the fields sent (not null) change, the others stay;
    PUT: the whole profile (``name`` and ``counters`` required, the rest default)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    address: Text | None = None
    hours: Text | None = None
    counters: Annotated[dict[CounterNumber, Short], msgspec.Meta(max_length=99)] | None = None
    """counter -> label; a new counter gets its queue, a removed one must be idle."""
    rooms: dict[CounterNumber, dict[Room, Short]] | None = None
    """counter -> room id -> label."""
    lang: Literal["ja", "en", "ja+en"] | None = None
    templates: Annotated[list[Text], msgspec.Meta(max_length=20)] | None = None
    schedule: dict[Weekday, Annotated[list[SessionBody], msgspec.Meta(max_length=6)]] | None = None
    closed_days: Annotated[list[DayText], msgspec.Meta(max_length=400)] | None = None
    holidays_closed: bool | None = None


class UserRequest(msgspec.Struct, kw_only=True):
    user: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
    role: Literal["staff", "operator"] = "staff"
    facility: FacilityNumber | None = None
    admin: bool = False
    """A clinic admin (staff only): manages the facility's staff accounts."""


Body = TypeVar("Body", bound=msgspec.Struct)


Rate = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,7}/[0-9]{1,5}\Z")]


class LimitsRequest(msgspec.Struct, kw_only=True):
    """Art. 37: ``"count/seconds"`` web tickets per facility (``rate``) and per client
    address there (``rate_ip``); null = the hub's default; ``"0/60"`` = no limit."""

    rate: Rate | None = None
    rate_ip: Rate | None = None
    rate_key: Rate | None = None
    """Requests of each partner API key of the facility (null: 600/60)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes, shape: type[Body], *, optional: bool = False) -> Body:
    """Decode ``raw`` JSON into ``shape``; an empty body is ``shape()`` when ``optional``."""
    if not raw.strip():
        if optional:
            return shape()
        raise BadRequest("a JSON body is required", code="bad_json")
    if too_deep(raw):
        raise BadRequest(f"the JSON nests deeper than {MAX_DEPTH} levels", code="json_too_deep")
    try:
        return msgspec.json.decode(raw, type=shape)
    except msgspec.ValidationError as exc:
        raise Unprocessable(str(exc), code="invalid_body") from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="bad_json") from exc
