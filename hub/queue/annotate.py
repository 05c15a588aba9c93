"""What staff see of integrations on a ticket: outcomes (``Annotate``: ``emr.status`` …) and
the patient-card number linking it to the EMR (``LinkPatient``, ``patient_ref``). Pure rules,
like ``rules.decide`` (which dispatches ``Annotate`` and ``LinkPatient`` here).

Annotations are staff-only (``views.ticket_staff``); a batch made only of
``ticket_annotated`` events adds no outbox entry, so consumers never feed on their own
outcomes (``hub/queue/outbox.py``).
"""

from __future__ import annotations

import re

from hub.errors import BadRequest, NotFound, Unprocessable
from hub.queue.events import Event, TicketAnnotated, TicketLinked
from hub.queue.model import Annotate, LinkPatient, QueueState, Ticket

PATIENT_REF_RE = re.compile(r"^[0-9A-Za-z-]{1,20}\Z")
"""A patient-card number (診察券番号): what ORCA's ``Patient_ID`` and FHIR identifiers take."""
ANNOTATION_KEY_RE = re.compile(r"^[a-z]{1,16}\.[a-z_]{1,32}\Z")
"""``emr.status``, ``emr.acceptance_id``, ``webhook.status``, ``phone.status`` …"""
MAX_ANNOTATION_VALUE = 200


def check_patient_ref(value: str) -> str:
    """``value`` when it is a patient-card number; else 400 ``invalid_patient_ref``."""
    if not PATIENT_REF_RE.match(value):
        raise BadRequest(
            "patient_ref is 1 to 20 letters, digits or '-'", code="invalid_patient_ref"
        )
    return value


def annotate(state: QueueState, cmd: Annotate) -> list[Event]:
    """Set ``key`` to ``value`` on today's ticket; an unchanged value makes no event."""
    if not ANNOTATION_KEY_RE.match(cmd.key):
        raise Unprocessable(
            "an annotation key is like 'emr.status' (lowercase)", code="invalid_annotation"
        )
    if len(cmd.value) > MAX_ANNOTATION_VALUE:
        raise Unprocessable(
            f"an annotation value is at most {MAX_ANNOTATION_VALUE} characters",
            code="invalid_annotation",
        )
    ticket = _ticket(state, cmd.ticket_id)
    if (cmd.key, cmd.value) in ticket.annotations:
        return []
    return [TicketAnnotated(at=cmd.at, ticket_id=cmd.ticket_id, key=cmd.key, value=cmd.value)]


def link_patient(state: QueueState, cmd: LinkPatient) -> list[Event]:
    """Link today's ticket (any status) to a patient-card number; the same one: nothing."""
    check_patient_ref(cmd.patient_ref)
    ticket = _ticket(state, cmd.ticket_id)
    if ticket.patient_ref == cmd.patient_ref:
        return []
    return [
        TicketLinked(at=cmd.at, ticket_id=cmd.ticket_id, patient_ref=cmd.patient_ref, by=cmd.by)
    ]


def _ticket(state: QueueState, ticket_id: str) -> Ticket:
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise NotFound("no such ticket in today's queue", code="unknown_ticket")
    return ticket
