"""The FHIR R4 / JP Core adapter: hand accepted tickets to the EMR as Encounters, follow them
through the visit, and look patients up (``Patient?identifier=``, ``family=&birthdate=``,
``phone=``). The resources are built in ``fhir_resources.py`` (pure).

- ``ticket.issued`` (and ``ticket.linked``, a ticket linked to a patient after it was issued)
  → conditional create (``If-None-Exist: identifier=urn:junban:ticket|{info}:{day}:{id}``)
  of an ``Encounter`` (class AMB, status ``arrived``) whose subject is the Patient found by
  the ticket's ``patient_ref`` under the clinic's JP Core identifier system: sent twice, it
  is created once. The Encounter's id is shown to staff as ``emr.acceptance_id``.
- called / recalled → ``in-progress``, completed → ``finished``, cancelled → ``cancelled``,
  requeued → ``arrived``, absent → the ``ABSENT_EXTENSION`` extension: the Encounter is
  read by its identifier and PUT back with ``If-Match`` on its version. A ticket whose
  Encounter is missing (linked late, or the EMR lost it) gets one made with the new status;
  a cancellation never makes one.
- No ``patient_ref``: not sent, ``emr.status`` ``unlinked``. No Patient with that id:
  ``not_found``, failed for good. 401/403 and other 4xx: ``failed`` with the server's
  message (``emr.error``), for good. No answer, 408, 412, 429 or a 5xx: retried on the
  delivery schedule.
- Auth: ``Authorization: Bearer {endpoint.secret}`` (stored sealed), when a secret is set.
  The FHIR base (``https://emr.example/fhir/R4``) is the endpoint's ``url``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from hub.errors import Unavailable, Unprocessable
from hub.integrations.emr import PatientSummary
from hub.integrations.fhir_resources import (
    ENCOUNTER_EVENTS,
    INSTITUTION_CODE_RE,
    STATUS_OF_EVENT,
    apply_event,
    kana_matches,
    new_encounter,
    normalize_kana,
    outcome_message,
    patient_system,
    phone_variants,
    summary_of,
    ticket_identifier,
)
from hub.integrations.senders import Outcome, clip

if TYPE_CHECKING:
    from hub.integrations.endpoints import Endpoint
    from hub.integrations.events import IntegrationEvent

KIND = "fhir"
FHIR_JSON = "application/fhir+json"
CONFIG_KEYS = frozenset({"institution_code"})
LINK_TYPES = frozenset({"ticket.issued", "ticket.linked"})
"""Events that hand a ticket over (make its Encounter)."""
RETRY_STATUSES = frozenset({408, 412, 425, 429})
STATUS_OF_TICKET = {"waiting": "arrived", "absent": "arrived", "called": "in-progress"}
"""The status an Encounter made for ``ticket.linked`` starts in (the ticket's state now)."""
SEARCH_COUNT = "50"

ClientFactory = Callable[[bool], httpx.AsyncClient]
"""Makes the pooled client for endpoints with ``allow_private`` False or True (the argument):
``hub.integrations.guard.outbound_client`` in the app."""


def _config_error(message: str) -> Unprocessable:
    return Unprocessable(f"FHIR config: {message}", code="invalid_endpoint_config")


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The FHIR part of an endpoint: ``{"institution_code": "1312345678"}``, the clinic's
    10-digit medical institution code (医療機関コード) that names its JP Core patient-id
    system. The FHIR base URL is the endpoint's ``url`` (checked by
    ``hub.integrations.guard.check_url``); the Bearer token is its sealed secret. 422
    ``invalid_endpoint_config``."""
    if not isinstance(raw, dict):
        raise _config_error("an object")
    unknown = set(raw) - CONFIG_KEYS
    if unknown & {"token", "secret", "password"}:
        raise _config_error("the token is the endpoint's secret, never in config")
    if unknown:
        raise _config_error(f"unknown fields {sorted(unknown)}")
    code = raw.get("institution_code")
    if not isinstance(code, str) or not INSTITUTION_CODE_RE.match(code):
        raise _config_error("institution_code is the 10-digit medical institution code")
    return {"institution_code": code}


class _Failed(Exception):
    """A delivery that ends now: ``outcome`` says how."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


class FhirCall:
    """One exchange with a FHIR server: (HTTP status, JSON answer, raw text head)."""

    def __init__(self, client: ClientFactory) -> None:
        self._factory = client
        self._clients: dict[bool, httpx.AsyncClient] = {}

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def __call__(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, str]:
        """Raises ``httpx.HTTPError`` when the server does not answer."""
        client = self._clients.get(endpoint.allow_private)
        if client is None:
            client = self._clients[endpoint.allow_private] = self._factory(endpoint.allow_private)
        sent = {"Accept": FHIR_JSON, **(headers or {})}
        if endpoint.secret:
            sent["Authorization"] = f"Bearer {endpoint.secret}"
        content = None
        if body is not None:
            content = orjson.dumps(body)
            sent["Content-Type"] = FHIR_JSON
        url = endpoint.url.rstrip("/") + "/" + path
        response = await client.request(method, url, params=params, content=content, headers=sent)
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        return response.status_code, answer, clip(response.text)


def _entries(bundle: Any, resource_type: str) -> list[dict[str, Any]]:
    """The matched resources of a search Bundle."""
    if not isinstance(bundle, dict):
        return []
    out = []
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        mode = (entry.get("search") or {}).get("mode", "match") if isinstance(entry, dict) else ""
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
            if mode == "match":
                out.append(resource)
    return out


def _ticket(event: IntegrationEvent) -> dict[str, Any]:
    ticket = event.data.get("ticket")
    return ticket if isinstance(ticket, dict) else {}


def _failed(ticket_id: str, message: str, status: int | None, state: str = "failed") -> _Failed:
    message = message[:200]
    notes = ((ticket_id, "emr.status", state), (ticket_id, "emr.error", message))
    return _Failed(Outcome(ok=False, retry=False, status=status, detail=message, annotations=notes))


def _check(status: int, answer: Any, text: str, ticket_id: str) -> None:
    """Raise ``_Failed`` unless ``status`` is 2xx: retry for no-fault answers, else failed."""
    if 200 <= status < 300:
        return
    if status >= 500 or status in RETRY_STATUSES:
        raise _Failed(Outcome(ok=False, retry=True, status=status, detail=text))
    if status in (401, 403):
        raise _failed(ticket_id, f"the FHIR server refused the token (HTTP {status})", status)
    raise _failed(ticket_id, outcome_message(answer, status), status)


class FhirSender:
    """``Sender`` of kind "fhir": ticket events → the ticket's Encounter at the EMR."""

    kind = KIND

    def __init__(self, client: ClientFactory) -> None:
        self._call = FhirCall(client)

    async def aclose(self) -> None:
        await self._call.aclose()

    async def send(self, endpoint: Endpoint, event: IntegrationEvent) -> Outcome:
        if event.type == "ping":
            return await self._ping(endpoint)
        ticket = _ticket(event)
        ticket_id = str(ticket.get("id") or "")
        if event.type not in ENCOUNTER_EVENTS | LINK_TYPES or not ticket_id:
            return Outcome(ok=True, retry=False, detail=f"{event.type}: nothing to send to FHIR")
        try:
            return await self._deliver(endpoint, event, ticket, ticket_id)
        except _Failed as failed:
            return failed.outcome
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retry=True, detail=f"FHIR server did not answer: {exc!r}")

    async def _ping(self, endpoint: Endpoint) -> Outcome:
        try:
            status, _, text = await self._call(endpoint, "GET", "metadata")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retry=False, detail=f"FHIR server did not answer: {exc!r}")
        return Outcome(ok=200 <= status < 300, retry=False, status=status, detail=text)

    async def _deliver(
        self, endpoint: Endpoint, event: IntegrationEvent, ticket: dict[str, Any], ticket_id: str
    ) -> Outcome:
        identifier = ticket_identifier(event.info, str(event.data.get("day", "")), ticket_id)
        token = quote(f"{identifier['system']}|{identifier['value']}", safe="")
        if event.type not in LINK_TYPES:
            found = await self._search(endpoint, "Encounter", {"identifier": token}, ticket_id)
            if found:
                return await self._update(endpoint, found[0], event, ticket_id)
            if event.type == "ticket.cancelled":
                return Outcome(ok=True, retry=False, detail="no Encounter to cancel")
        patient_ref = ticket.get("patient_ref")
        if not patient_ref:
            notes = ((ticket_id, "emr.status", "unlinked"),) if event.type in LINK_TYPES else ()
            return Outcome(
                ok=True, retry=False, detail="no patient_ref: not sent", annotations=notes
            )
        patient_id = await self._patient_id(endpoint, str(patient_ref), ticket_id)
        if event.type == "ticket.linked":
            status = STATUS_OF_TICKET.get(str(ticket.get("status")), "arrived")
        else:
            status = STATUS_OF_EVENT.get(event.type, "arrived")
        encounter = new_encounter(
            info=event.info, day=str(event.data.get("day", "")), ticket_id=ticket_id,
            patient_id=patient_id, status=status, at=event.timestamp,
        )  # fmt: skip
        code, answer, text = await self._call(
            endpoint, "POST", "Encounter", body=encounter,
            headers={"If-None-Exist": f"identifier={token}"},
        )  # fmt: skip
        _check(code, answer, text, ticket_id)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise _failed(ticket_id, "the FHIR server answered no Encounter id", code)
        if event.type not in LINK_TYPES:
            return await self._update(endpoint, answer, event, ticket_id)
        return _sent(ticket_id, str(answer["id"]), code, "created" if code == 201 else "existed")

    async def _update(
        self, endpoint: Endpoint, encounter: dict[str, Any], event: IntegrationEvent, ticket_id: str
    ) -> Outcome:
        encounter_id = str(encounter.get("id", ""))
        updated = apply_event(encounter, event.type, event.timestamp)
        if updated == encounter:
            return _sent(ticket_id, encounter_id, 200, "unchanged")
        headers = {}
        version = (encounter.get("meta") or {}).get("versionId")
        if isinstance(version, str) and version:
            headers["If-Match"] = f'W/"{version}"'
        code, answer, text = await self._call(
            endpoint, "PUT", f"Encounter/{quote(encounter_id, safe='')}", body=updated,
            headers=headers,
        )  # fmt: skip
        _check(code, answer, text, ticket_id)
        return _sent(ticket_id, encounter_id, code, f"status {updated.get('status')}")

    async def _search(
        self, endpoint: Endpoint, resource_type: str, query: dict[str, str], ticket_id: str
    ) -> list[dict[str, Any]]:
        # the query is pre-encoded: `|` and `:` of tokens travel percent-encoded
        search = "&".join(f"{k}={v}" for k, v in query.items())
        code, answer, text = await self._call(endpoint, "GET", f"{resource_type}?{search}")
        _check(code, answer, text, ticket_id)
        return _entries(answer, resource_type)

    async def _patient_id(self, endpoint: Endpoint, patient_ref: str, ticket_id: str) -> str:
        system = patient_system(str(endpoint.config.get("institution_code", "")))
        token = quote(f"{system}|{patient_ref}", safe="")
        found = await self._search(endpoint, "Patient", {"identifier": token}, ticket_id)
        if not found:
            raise _failed(ticket_id, f"no patient {patient_ref} at the EMR", 200, "not_found")
        if len(found) > 1:
            raise _failed(ticket_id, f"{len(found)} patients have the id {patient_ref}", 200)
        return str(found[0].get("id", ""))


def _sent(ticket_id: str, encounter_id: str, status: int, detail: str) -> Outcome:
    notes = (
        (ticket_id, "emr.status", "sent"),
        (ticket_id, "emr.acceptance_id", encounter_id),
    )
    return Outcome(
        ok=True, status=status, detail=f"Encounter/{encounter_id} {detail}", annotations=notes
    )


class FhirLookup:
    """``Lookup`` of kind "fhir": by patient-card number (the JP Core identifier), by kana
    name and birth date (``family=`` + ``birthdate=``, then the kana compared), by phone."""

    def __init__(self, client: ClientFactory) -> None:
        self._call = FhirCall(client)

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
        code = str(endpoint.config.get("institution_code", ""))
        params: dict[str, str] = {"_count": SEARCH_COUNT}
        if patient_ref is not None:
            params["identifier"] = f"{patient_system(code)}|{patient_ref}"
        elif kana is not None and birth is not None:
            params["birthdate"] = birth
            parts = normalize_kana(kana).split(" ")
            if len(parts) > 1:  # "ヤマダ タロウ": the family name narrows the search
                params["family"] = parts[0]
        elif phone is not None:
            params["phone"] = ",".join(phone_variants(phone))
        else:
            return []
        found = [summary_of(p, code) for p in await self._ask(endpoint, params)]
        if kana is not None:
            found = [p for p in found if kana_matches(p, kana)]
        return found

    async def _ask(self, endpoint: Endpoint, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            status, answer, _ = await self._call(endpoint, "GET", "Patient", params=params)
        except httpx.HTTPError as exc:
            raise _unavailable(f"the FHIR server did not answer ({type(exc).__name__})") from exc
        if status in (401, 403):
            raise _unavailable(f"the FHIR server refused the token (HTTP {status})")
        if not 200 <= status < 300:
            raise _unavailable(outcome_message(answer, status))
        return _entries(answer, "Patient")


def _unavailable(message: str) -> Unavailable:
    return Unavailable(message[:300], code="emr_unavailable")
