"""The EMR link option (電子カルテ・レセコン連携, Table 1): the patient lookup shared by the ORCA
and FHIR adapters, and the use case behind ``GET /v1/facilities/{f}/emr/patients``.

A lookup answers only what the console needs to confirm a patient's identity and link the
ticket (name, kana, birth date, sex and the EMR's patient id); nothing of it is stored, and
every call is audited by the router (a staff read of a staff route)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.queue.facilities import Facility

if TYPE_CHECKING:
    from hub.integrations.endpoints import Endpoint


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """What an EMR tells about one patient: enough to say "this is the same person"."""

    patient_ref: str
    name: str
    kana: str
    birth_date: str
    """YYYY-MM-DD ("" when the EMR does not say)."""
    sex: str
    """"male" | "female" | "other" | "unknown"."""

    def public(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class Lookup(Protocol):
    async def lookup(
        self,
        endpoint: Endpoint,
        *,
        patient_ref: str | None = None,
        kana: str | None = None,
        birth: str | None = None,
        phone: str | None = None,
    ) -> list[PatientSummary]: ...


LOOKUPS: dict[str, Lookup] = {}
"""endpoint kind ("orca", "fhir") -> its lookup; filled in hub/app.py."""

PATIENT_REF_RE = re.compile(r"^[0-9A-Za-z-]{1,20}\Z")
"""A patient-card number (診察券番号) as tickets store it."""
PHONE_RE = re.compile(r"^\+?[0-9]{6,15}\Z")
KANA_MAX = 60
MAX_RESULTS = 50
"""At most this many patients answered (an EMR's name search can match hundreds)."""


@dataclass(frozen=True, slots=True)
class PatientQuery:
    """One lookup: by patient id, by kana and birth date, or by phone (exactly one)."""

    patient_ref: str | None = None
    kana: str | None = None
    birth: str | None = None
    phone: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> PatientQuery:
        """From the route's query (``id``, ``kana`` + ``birth``, ``phone``); 400
        ``invalid_query`` for anything else."""
        patient_ref = params.get("id") or None
        kana = (params.get("kana") or "").strip() or None
        birth = params.get("birth") or None
        phone = (params.get("phone") or "").replace("-", "").replace(" ", "") or None
        ways = sum(x is not None for x in (patient_ref, kana or birth, phone))
        if ways != 1:
            raise BadRequest(
                "look a patient up by id=, by kana= and birth=, or by phone= (one of them)",
                code="invalid_query",
            )
        if patient_ref is not None and not PATIENT_REF_RE.match(patient_ref):
            raise BadRequest("id is 1 to 20 letters, digits or '-'", code="invalid_query")
        if (kana is None) != (birth is None):
            raise BadRequest("kana= and birth= go together", code="invalid_query")
        if kana is not None and len(kana) > KANA_MAX:
            raise BadRequest(f"kana is at most {KANA_MAX} characters", code="invalid_query")
        if birth is not None:
            try:
                date.fromisoformat(birth)
            except ValueError:
                raise BadRequest("birth is a date like 1970-01-31", code="invalid_query") from None
            if len(birth) != 10:
                raise BadRequest("birth is a date like 1970-01-31", code="invalid_query")
        if phone is not None and not PHONE_RE.match(phone):
            raise BadRequest("phone is 6 to 15 digits", code="invalid_query")
        return cls(patient_ref=patient_ref, kana=kana, birth=birth, phone=phone)

    def describe(self) -> str:
        """For the audit log: how the patient was looked up, without the name or birth date."""
        if self.patient_ref is not None:
            return f"emr lookup id={self.patient_ref}"
        return "emr lookup by kana+birth" if self.kana is not None else "emr lookup by phone"


EndpointLister = Callable[[str], Awaitable[Sequence["Endpoint"]]]
FacilityReader = Callable[[str], Awaitable[Facility | None]]


class EmrService:
    """The patient lookup of a facility with the ``emr`` option, through its first enabled
    ORCA or FHIR endpoint (in the order the endpoint store lists them)."""

    def __init__(
        self,
        facilities: FacilityReader,
        endpoints: EndpointLister,
        lookups: dict[str, Lookup] | None = None,
    ) -> None:
        self._facilities = facilities
        self._endpoints = endpoints
        self._lookups = LOOKUPS if lookups is None else lookups

    async def patients(self, facility: str, query: PatientQuery) -> dict[str, Any]:
        """``{"endpoint": id, "kind": ..., "patients": [...]}``. 404 ``unknown_facility``,
        403 ``option_not_contracted`` without ``emr``, 409 ``no_emr_endpoint`` when no
        enabled ORCA/FHIR endpoint exists; the adapters raise 503 ``emr_unavailable``."""
        record = await self._facilities(facility)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        if not record.has_option("emr"):
            raise Forbidden(
                "this facility has not contracted the EMR link option (Table 1)",
                code="option_not_contracted",
            )
        endpoint = await self.endpoint_of(facility)
        found = await self._lookups[endpoint.kind].lookup(
            endpoint,
            patient_ref=query.patient_ref,
            kana=query.kana,
            birth=query.birth,
            phone=query.phone,
        )
        return {
            "facility": facility,
            "endpoint": endpoint.id,
            "kind": endpoint.kind,
            "patients": [p.public() for p in found[:MAX_RESULTS]],
        }

    async def endpoint_of(self, facility: str) -> Endpoint:
        for endpoint in await self._endpoints(facility):
            if endpoint.enabled and endpoint.kind in self._lookups:
                return endpoint
        raise Conflict(
            "no enabled ORCA or FHIR endpoint: add one under 連携 (integrations) first",
            code="no_emr_endpoint",
        )
