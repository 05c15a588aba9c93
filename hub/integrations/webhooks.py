"""The webhook sender: Standard Webhooks over the outbound guard.

Each attempt POSTs the event's body (the same bytes every time) with ``webhook-id`` (the
event id, the same every time), ``webhook-timestamp`` (this attempt's Unix seconds) and
``webhook-signature`` made by the ``standardwebhooks`` library for this attempt. Success is
a 2xx within 15 s; a 3xx is a failure (redirects are not followed); ``410 Gone`` disables the
endpoint; an answer header ``webhook-delivery: abort-message`` stops retries of the event.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from hub.integrations.endpoints import Endpoint
from hub.integrations.events import IntegrationEvent, payload
from hub.integrations.guard import TIMEOUT_S, outbound_client
from hub.integrations.senders import Outcome, clip

USER_AGENT = "Junban-Webhooks/1"


def signed_headers(secrets: list[str], event_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt at ``now``: one signature per secret
    (two during a rotation), space-separated."""
    signature = " ".join(Webhook(s).sign(event_id, now, body.decode()) for s in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def judge(status: int, headers: httpx.Headers, text: str) -> Outcome:
    """The outcome of an answer (pure)."""
    detail = clip(text)
    if 200 <= status < 300:
        return Outcome(ok=True, status=status, detail=detail)
    if status == 410:
        return Outcome(ok=False, retry=False, status=status, detail=detail, disable=True)
    abort = headers.get("webhook-delivery", "").strip().lower() == "abort-message"
    return Outcome(ok=False, retry=not abort, status=status, detail=detail)


class WebhookSender:
    """``SENDERS["webhook"]``: one pooled client for public targets, one for endpoints the
    operator allowed private addresses for."""

    kind = "webhook"

    def __init__(self, *, allow_loopback: bool, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._clients = {
            private: outbound_client(  # uncapped: a stalled endpoint holds only its own
                allow_private=private,
                allow_loopback=allow_loopback,
                timeout_s=timeout_s,
                max_connections=None,
                max_keepalive=100,
            )
            for private in (False, True)
        }

    async def send(self, endpoint: Endpoint, event: IntegrationEvent) -> Outcome:
        if endpoint.secret is None:
            return Outcome(ok=False, detail="the endpoint's secret must be set again (要再設定)")
        body = payload(event, personal=endpoint.personal)
        now = datetime.now(UTC)
        secrets = endpoint.signing_secrets(now.timestamp())
        headers = signed_headers(secrets, event.id, body, now)
        client = self._clients[endpoint.allow_private]
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await client.post(endpoint.url, content=body, headers=headers)
                text = (await answer.aread())[:2048].decode(errors="replace")
        except TimeoutError:
            return Outcome(ok=False, detail=f"no answer within {self.timeout_s:g} s")
        except httpx.TimeoutException:
            return Outcome(ok=False, detail=f"no answer within {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, detail=clip(f"{type(exc).__name__}: {exc}"))
        return judge(answer.status_code, answer.headers, text)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
