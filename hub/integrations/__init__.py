"""Integrations: endpoints, the v1 integration events, webhooks, ORCA and FHIR (issue 16).

Design: ../shared/design/outbox-and-integrations.md. The outbox's ``integrations`` group
(``dispatch.py``) fans outbox entries out to each endpoint's stream and runs each endpoint's
head-of-line dispatcher; a sender per kind (``senders.SENDERS``) delivers one event.
"""
