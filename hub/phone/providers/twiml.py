"""Twilio-compatible REST voice providers (Twilio; Telnyx TeXML and SignalWire cXML speak the
same verbs), chosen by base URL and credentials: ``POST /2010-04-01/Accounts/{sid}/Calls.json``
with the TwiML inline, Basic auth, signed status callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import httpx

from hub.phone.providers.base import (
    CallRequest,
    CallUpdate,
    Placed,
    ProviderConfig,
    normal_status,
    signature_ok,
)

STATUS_EVENTS = "initiated ringing answered completed"


class TwimlProvider:
    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.name = config.name
        self.config = config
        self.client = client

    def _url(self, tail: str) -> str:
        base = self.config.base_url.rstrip("/")
        return f"{base}/2010-04-01/Accounts/{self.config.account_sid}/{tail}"

    @property
    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.config.account_sid, self.config.auth_token)

    async def place(self, request: CallRequest) -> Placed:
        form = [
            ("To", request.to),
            ("From", request.caller),
            ("Twiml", request.twiml),
            ("StatusCallback", request.status_url),
            *(("StatusCallbackEvent", e) for e in STATUS_EVENTS.split()),
        ]
        try:
            answer = await self.client.post(
                self._url("Calls.json"),
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                auth=self._auth,
            )
        except httpx.HTTPError as exc:
            return Placed(False, detail=f"{type(exc).__name__}: {exc}"[:200])
        if answer.status_code not in (200, 201):
            return Placed(False, detail=f"HTTP {answer.status_code}: {answer.text[:150]}")
        try:
            sid = str(answer.json()["sid"])
        except (ValueError, KeyError, TypeError):
            return Placed(False, detail="no call sid in the answer")
        return Placed(True, sid=sid)

    def parse_callback(
        self, url: str, params: Mapping[str, str], signature: str | None
    ) -> CallUpdate | None:
        if not signature_ok(self.config.auth_token, url, params, signature):
            return None
        duration = params.get("CallDuration")
        return CallUpdate(
            sid=params.get("CallSid", ""),
            status=normal_status(params.get("CallStatus", "")),
            duration=int(duration) if duration and duration.isdigit() else None,
        )

    async def fetch(self, sid: str) -> CallUpdate | None:
        try:
            answer = await self.client.get(self._url(f"Calls/{sid}.json"), auth=self._auth)
            body = answer.json() if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(body, dict):
            return None
        duration = body.get("duration")
        return CallUpdate(
            sid=sid,
            status=normal_status(str(body.get("status", ""))),
            duration=int(str(duration)) if str(duration or "").isdigit() else None,
        )
