"""The ORCA adapter (日医標準レセプトソフト API, JSON mode of ORCA 5.0+): hand accepted tickets
to ORCA as receptions (受付登録 / 受付取消) and look patients up.

From the public specification (www.orca.med.or.jp/receipt/tec/api/):
- acceptmod.html: ``POST /orca11/acceptmodv2``, request record ``acceptreq`` with
  ``Request_Number`` (01 登録, 02 取消), ``Patient_ID``, ``Acceptance_Date`` (YYYY-MM-DD),
  ``Acceptance_Time`` (HH:MM:SS), ``Acceptance_Id`` (02), ``Department_Code``,
  ``Physician_Code``, ``Medical_Information``; answer ``acceptres`` with ``Api_Result``,
  ``Api_Result_Message`` and ``Acceptance_Id``.
- patientget.html: ``GET /api01rv2/patientgetv2?id=…`` (``format=json`` since 5.0), answer
  ``patientinfores`` with ``Patient_Information`` (``Patient_ID``, ``WholeName``,
  ``WholeName_inKana``, ``BirthDate``, ``Sex`` 1 male / 2 female).
- patientshimei.html: ``POST /api01rv2/patientlst3v2?class=01``, request ``patientlst3req``
  (``WholeName`` prefix match in kanji or kana, ``Birth_StartDate``, ``Birth_EndDate``),
  answer as patientlst2v2 (``patientlst2res``, ``Patient_Information`` array).
- acceptancelst.html: ``POST /api01rv2/acceptlstv2?class=01`` (``acceptlstreq``).
In JSON mode a request body is ``{"acceptreq": {...}}`` and the answer ``{"acceptres":
{...}}``; ``Api_Result`` "00" (newer APIs "000") is success.

Outcomes (design "EMR / receipt-computer link option"): ``00`` or a ``K`` code with an
``Acceptance_Id`` (``K3`` 受付登録終了) → sent; ``90`` (他端末使用中) → retried every 5 s, up
to 6 times, inside one send; other codes → failed for good, ORCA's message shown on the
ticket; HTTP 405 → a setup error (``ALLOW_METHODS=POST`` in ``receipt_route.ini``); no
answer or a 5xx → retried on the delivery schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from hub.errors import BadRequest, NotFound, Unavailable
from hub.integrations.emr import PatientSummary
from hub.integrations.orca_rules import (
    ACCEPT_PATH,
    BUSY,
    CANCEL_TYPES,
    EVENTS,
    KIND,
    NOT_FOUND_CODES,
    PATIENT_GET_PATH,
    PATIENT_NAME_PATH,
    SETUP_401,
    SETUP_405,
    acceptance_request,
    cancel_request,
    codes_for,
    instant,
    is_success,
    record_of,
    summary_of,
    validate_config,
)
from hub.integrations.senders import Outcome, clip

if TYPE_CHECKING:
    from hub.integrations.endpoints import Endpoint
    from hub.integrations.events import IntegrationEvent
    from hub.queue.actions import QueueActions
    from hub.queue.facilities import FacilityStore

__all__ = ["KIND", "OrcaLookup", "OrcaSender", "validate_config"]


# -- the sender -----------------------------------------------------------------------------

ClientFactory = Callable[[bool], httpx.AsyncClient]
"""allow_private -> an outbound client (``hub.integrations.guard.outbound_client``)."""
TzOf = Callable[[str], Awaitable[str]]
AnnotationsOf = Callable[[str, str], Awaitable[dict[str, str]]]


class OrcaCall:
    """One JSON exchange with ORCA: the HTTP status and the answer record, or why not."""

    def __init__(self, client: ClientFactory) -> None:
        self._factory = client
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def client(self, allow_private: bool) -> httpx.AsyncClient:
        """One pooled client per reach (public only, or private ranges allowed)."""
        if allow_private not in self._clients:
            self._clients[allow_private] = self._factory(allow_private)
        return self._clients[allow_private]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def __call__(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any], str]:
        """(HTTP status, answer record, raw text head). Raises ``httpx.HTTPError`` when
        ORCA does not answer."""
        auth = httpx.BasicAuth(str(endpoint.config.get("user", "")), endpoint.secret or "")
        url = endpoint.url.rstrip("/") + path
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        allow_private = endpoint.allow_private
        response = await self.client(allow_private).request(
            method, url, params=params, content=content, headers=headers, auth=auth
        )
        text = response.text[:512]
        try:
            record = record_of(response.json()) if response.content else {}
        except ValueError:
            record = {}
        return response.status_code, record, text


def facility_zone(facilities: FacilityStore) -> TzOf:
    """The facility's time zone from its (cached) record; Asia/Tokyo when it is gone."""

    async def tz_of(facility: str) -> str:
        record = await facilities.cached(facility)
        return record.tz if record is not None else "Asia/Tokyo"

    return tz_of


def ticket_annotations(queues: QueueActions) -> AnnotationsOf:
    """Today's annotations of a ticket (``NotFound`` for a ticket of another day)."""

    async def annotations_of(info: str, ticket_id: str) -> dict[str, str]:
        state = await queues.ticket_today(info, ticket_id, time.time())
        return dict(state.tickets[ticket_id].annotations)

    return annotations_of


def _ticket(event: IntegrationEvent) -> dict[str, Any]:
    ticket = event.data.get("ticket")
    return ticket if isinstance(ticket, dict) else {}


def _failed(
    ticket_id: str, message: str, status: int | None, *, not_found: bool = False
) -> Outcome:
    message = message[:200]
    state = "not_found" if not_found else "failed"
    notes = ((ticket_id, "emr.status", state), (ticket_id, "emr.error", message))
    return Outcome(ok=False, retry=False, status=status, detail=message, annotations=notes)


class OrcaSender:
    """``Sender`` of kind "orca": ``ticket.issued`` / ``ticket.linked`` with a patient_ref
    → 受付登録 01; ``ticket.cancelled`` of an accepted ticket → 受付取消 02."""

    kind = KIND

    def __init__(
        self,
        client: ClientFactory,
        tz_of: TzOf,
        annotations_of: AnnotationsOf | None = None,
        *,
        busy_delay_s: float = 5.0,
        busy_retries: int = 6,
    ) -> None:
        self._call = OrcaCall(client)
        self._tz_of = tz_of
        self._annotations_of = annotations_of
        self.busy_delay_s = busy_delay_s
        self.busy_retries = busy_retries

    async def aclose(self) -> None:
        await self._call.aclose()

    async def send(self, endpoint: Endpoint, event: IntegrationEvent) -> Outcome:
        ticket = _ticket(event)
        ticket_id = str(ticket.get("id", ""))
        if event.type not in EVENTS or not ticket_id:
            return Outcome(ok=True, retry=False, detail=f"{event.type}: nothing to send to ORCA")
        patient_ref = ticket.get("patient_ref")
        cancel = event.type in CANCEL_TYPES
        if not patient_ref:
            if cancel:
                return Outcome(ok=True, retry=False, detail="no patient_ref: nothing to cancel")
            notes = ((ticket_id, "emr.status", "unlinked"),)
            return Outcome(
                ok=True, retry=False, detail="no patient_ref: not sent", annotations=notes
            )
        codes = codes_for(endpoint.config, event.info)
        if codes is None:
            return _failed(ticket_id, f"no ORCA department/physician codes for {event.info}", None)
        acceptance_id = await self._acceptance_id(event, ticket)
        tz = await self._tz_of(event.facility)
        at = instant(ticket.get("issued_at"), event.timestamp)
        if cancel:
            if not acceptance_id:
                return Outcome(ok=True, retry=False, detail="no ORCA acceptance to cancel")
            body = cancel_request(
                patient_ref=str(patient_ref), acceptance_id=acceptance_id, at=at, tz=tz,
                codes=codes,
            )  # fmt: skip
        else:
            if acceptance_id:
                return Outcome(ok=True, retry=False, detail=f"already accepted ({acceptance_id})")
            if ticket.get("status") == "cancelled":  # linked after it was cancelled
                return Outcome(ok=True, retry=False, detail="cancelled ticket: not sent")
            body = acceptance_request(patient_ref=str(patient_ref), at=at, tz=tz, codes=codes)
        return await self._exchange(endpoint, body, ticket_id, cancel=cancel)

    async def _acceptance_id(self, event: IntegrationEvent, ticket: dict[str, Any]) -> str:
        """The ticket's ``emr.acceptance_id``: from the event's ticket, else from the ticket
        as it is now (an acceptance annotated after this event was written)."""
        notes = ticket.get("annotations")
        found = str(notes.get("emr.acceptance_id", "")) if isinstance(notes, dict) else ""
        if found or self._annotations_of is None:
            return found
        try:
            now = await self._annotations_of(event.info, str(ticket["id"]))
        except NotFound:  # a ticket of an earlier day
            return ""
        return now.get("emr.acceptance_id", "")

    async def _exchange(
        self, endpoint: Endpoint, body: dict[str, Any], ticket_id: str, *, cancel: bool
    ) -> Outcome:
        for attempt in range(self.busy_retries + 1):
            if attempt:
                await asyncio.sleep(self.busy_delay_s)
            try:
                status, record, text = await self._call(endpoint, "POST", ACCEPT_PATH, {}, body)
            except httpx.HTTPError as exc:
                return Outcome(ok=False, retry=True, detail=clip(f"ORCA did not answer: {exc!r}"))
            if status == 405:
                return _failed(ticket_id, SETUP_405, status)
            if status == 401:
                return _failed(ticket_id, SETUP_401, status)
            if status >= 500 or status == 429:
                return Outcome(ok=False, retry=True, status=status, detail=text)
            if not 200 <= status < 300:
                return _failed(ticket_id, f"ORCA answered HTTP {status}: {text}", status)
            code = str(record.get("Api_Result", ""))
            message = str(record.get("Api_Result_Message", ""))
            if code == BUSY:
                continue
            acceptance_id = str(record.get("Acceptance_Id", ""))
            if is_success(code) or (code.startswith("K") and acceptance_id):
                if cancel:
                    return Outcome(ok=True, status=status, detail=f"{code} {message}")
                notes: tuple[tuple[str, str, str], ...] = ((ticket_id, "emr.status", "sent"),)
                if acceptance_id:
                    notes += ((ticket_id, "emr.acceptance_id", acceptance_id),)
                return Outcome(
                    ok=True, status=status, detail=f"{code} {message}", annotations=notes
                )
            return _failed(
                ticket_id, f"ORCA {code}: {message}", status, not_found=code in NOT_FOUND_CODES
            )
        detail = f"ORCA busy (90 他端末使用中) {self.busy_retries + 1} times"
        return Outcome(ok=False, retry=True, detail=detail)


# -- the lookup -----------------------------------------------------------------------------


class OrcaLookup:
    """``Lookup`` of kind "orca": patientgetv2 by id, patientlst3v2 by kana and birth date.
    ORCA has no search by phone."""

    def __init__(self, client: ClientFactory) -> None:
        self._call = OrcaCall(client)

    async def aclose(self) -> None:
        await self._call.aclose()

    async def lookup(
        self,
        endpoint: Endpoint,
        *,
        patient_ref: str | None = None,
        kana: str | None = None,
        birth: str | None = None,
        phone: str | None = None,
    ) -> list[PatientSummary]:
        if patient_ref is not None:
            params = {"id": patient_ref, "format": "json"}
            record = await self._ask(endpoint, "GET", PATIENT_GET_PATH, params, None)
            found = record.get("Patient_Information")
            return [summary_of(found)] if isinstance(found, dict) else []
        if kana is not None and birth is not None:
            request = {
                "patientlst3req": {
                    "WholeName": kana, "Birth_StartDate": birth, "Birth_EndDate": birth,
                    "Sex": "", "InOut": "",
                }
            }  # fmt: skip
            params = {"class": "01"}
            record = await self._ask(endpoint, "POST", PATIENT_NAME_PATH, params, request)
            found = record.get("Patient_Information")
            rows = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
            return [summary_of(r) for r in rows if isinstance(r, dict)]
        raise BadRequest("ORCA cannot look a patient up by phone", code="invalid_query")

    async def _ask(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any] | None,
    ) -> dict[str, Any]:
        try:
            status, record, text = await self._call(endpoint, method, path, params, body)
        except httpx.HTTPError as exc:
            raise _unavailable(f"ORCA did not answer ({type(exc).__name__})") from exc
        if status == 405:
            raise _unavailable(SETUP_405)
        if status == 401:
            raise _unavailable(SETUP_401)
        if not 200 <= status < 300:
            raise _unavailable(f"ORCA answered HTTP {status}")
        code = str(record.get("Api_Result", ""))
        if is_success(code):
            return record
        if code in NOT_FOUND_CODES:
            return {}
        message = str(record.get("Api_Result_Message", ""))
        if code == BUSY:
            raise _unavailable(f"ORCA is busy (90 {message}): retry in a few seconds")
        raise _unavailable(f"ORCA {code}: {message}")


def _unavailable(message: str) -> Unavailable:
    return Unavailable(message[:300], code="emr_unavailable")
