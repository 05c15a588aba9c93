"""Every API route of the hub, in the order Starlette tries them (``hub.app`` serves them;
``hub.apidocs`` and the access tests read them)."""

from __future__ import annotations

from hub.web import accounts, analytics, contracts, facilities, links, live, pairing, queues
from hub.web import apikeys as apikeys_web
from hub.web import bookings as bookings_web
from hub.web import emr as emr_web
from hub.web import integrations as integrations_web
from hub.web import integrations_dead as dead_web
from hub.web import line as line_web
from hub.web import notify as notify_web
from hub.web import patients as patients_web
from hub.web import phone as phone_web
from hub.web import staff as staff_web
from hub.web.routing import ApiRoute

API_ROUTES: list[ApiRoute] = [
    *patients_web.ROUTES,  # before queues': its /tickets/{id}/{action} would take "postpone"
    *notify_web.ROUTES,  # before queues' too: …/tickets/{id}/notifications
    *line_web.ROUTES,
    *phone_web.ROUTES,  # before queues' too (…/phone-calls)
    *bookings_web.ROUTES,
    *queues.ROUTES,
    *live.ROUTES,
    *facilities.ROUTES,
    *pairing.ROUTES,
    *links.ROUTES,
    *accounts.ROUTES,
    *staff_web.ROUTES,
    *contracts.ROUTES,
    *dead_web.ROUTES,
    *analytics.ROUTES,
    *integrations_web.ROUTES,
    *emr_web.ROUTES,
    *apikeys_web.ROUTES,
]
