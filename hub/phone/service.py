"""The use cases of the phone call-out option: place a call (automatic or manual), take a
provider's status callback, reconcile silent calls, settings, providers and the history."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx

from hub.csvout import local_time
from hub.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from hub.phone import rules, script
from hub.phone.numbers import mask, national, to_e164
from hub.phone.providers.base import FINAL, CallProvider, CallRequest, ProviderConfig
from hub.phone.providers.dev import DevProvider
from hub.phone.providers.twiml import TwimlProvider
from hub.phone.rules import Candidate, PhoneSettings
from hub.phone.store import PhoneStore
from hub.queue.actions import QueueActions
from hub.queue.facilities import Facility, FacilityStore

log = logging.getLogger("junban")

RECONCILE_AFTER_S = 120.0
"""A call with no final callback after 2 minutes is fetched from its provider."""
DEFER_BUSY_S = 20.0
"""An automatic call refused because 2 are in progress is tried again after this."""
CSV_HEADERS = ("日時", "情報番号", "受付番号", "電話番号", "種別", "結果", "通話秒数", "担当")
RESULTS = {
    "completed": "応答",
    "answered": "応答",
    "busy": "話中",
    "no-answer": "応答なし",
    "failed": "失敗",
}
"""The CSV's 結果; anything else (queued, ringing, unknown …) is 不明."""
REFUSALS = {
    "busy": "2 calls are in progress at this facility: retry shortly",
    "daily_cap": "today's calls are used up",
    "monthly_cap": "this month's calls are used up",
    "ticket_cap": "this ticket was called 3 times already",
}


class PhoneService:
    def __init__(
        self,
        store: PhoneStore,
        facilities: FacilityStore,
        queues: QueueActions,
        http: Callable[[], httpx.AsyncClient],
        *,
        public_url: str,
        server_hours: tuple[str, str],
        retry_scale: float = 1.0,
    ) -> None:
        self.store = store
        self.facilities = facilities
        self.queues = queues
        self._http = http
        self._client: httpx.AsyncClient | None = None
        self.public_url = public_url.rstrip("/")
        self.server_hours = server_hours
        self.retry_scale = retry_scale
        self.dev = DevProvider()

    async def facility(self, number: str) -> Facility:
        """The facility, which must have contracted the option (403 ``option_not_contracted``)."""
        record = await self.facilities.cached(number)
        if record is None:
            raise NotFound("no such facility", code="unknown_facility")
        if not record.has_option("phone"):
            raise Forbidden(
                "this facility has not contracted the phone call-out option (Table 1)",
                code="option_not_contracted",
            )
        return record

    async def provider(self, name: str) -> CallProvider | None:
        config = await self.store.provider(name)
        if config is None:
            return self.dev if name == "dev" else None
        if config.kind == "dev":
            return DevProvider(name)
        if self._client is None:
            self._client = self._http()
        return TwimlProvider(config, self._client)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def in_window(self, settings: PhoneSettings, tz: str, now: float) -> bool:
        return rules.in_window(now, tz, settings.window, self.server_hours)

    # ---- placing ------------------------------------------------------------------------

    async def place(
        self, record: Facility, settings: PhoneSettings, c: Candidate, by: str, now: float
    ) -> tuple[str, str]:
        """Record the call, then ask the provider: (outcome of place_call.lua, call id)."""
        call_id = secrets.token_hex(8)
        trigger_key = c.trigger if c.attempt == 1 else f"{c.trigger}:retry{c.attempt}"
        fields = {
            "info": c.info,
            "ticket": c.ticket_id,
            "number": str(c.number),
            "to": c.phone,
            "trigger": c.trigger,
            "attempt": str(c.attempt),
            "by": by,
            "provider": settings.provider,
            "ahead": "" if c.ahead is None else str(c.ahead),
        }
        outcome = await self.store.place(
            record.number, call_id, c.ticket_id, trigger_key, settings, fields, now
        )
        if outcome != "ok":
            return outcome, ""
        provider = await self.provider(settings.provider)
        text = script.text(record.name, c.number, c.trigger, c.ahead)
        url = (
            f"{self.public_url}/v1/integrations/phone/{settings.provider}/status"
            f"?f={record.number}&c={call_id}"
        )
        request = CallRequest(c.phone, settings.caller, script.twiml(text), url, text)
        if provider is None:
            await self._set(record.number, call_id, "failed", now, detail="unknown provider")
            return outcome, call_id
        placed = await provider.place(request)
        if placed.ok and (await self.store.get(record.number, call_id)).get("status") == "queued":
            await self._set(record.number, call_id, "initiated", now, sid=placed.sid)
        elif placed.ok:  # a callback came first: keep its status, record the sid
            await self.store.set_fields(record.number, call_id, sid=placed.sid)
        else:
            await self._set(record.number, call_id, "failed", now, detail=placed.detail)
        return outcome, call_id

    async def manual(self, info: str, ticket_id: str, by: str, now: float) -> dict[str, Any]:
        """Staff press 「電話で呼び出す」: 409 ``no_consent``, ``outside_call_hours`` or
        ``call_limit_reached``; 201 with the call otherwise."""
        record = await self.facility(info.split("-", 1)[0])
        settings = await self.store.settings(record.number)
        state = await self.queues.ticket_today(info, ticket_id, now)
        ticket = state.tickets[ticket_id]
        if ticket.phone_consent is None or not ticket.phone:
            raise Conflict("the patient gave no consent to phone calls", code="no_consent")
        if not self.in_window(settings, record.tz, now):
            raise Conflict(
                f"calls are made from {settings.window[0]} to {settings.window[1]} only",
                code="outside_call_hours",
            )
        ahead = state.waiting.index(ticket_id) if ticket_id in state.waiting else None
        c = Candidate(ticket_id, info, ticket.number, ticket.phone, "manual", ahead)
        outcome, call_id = await self.place(record, settings, c, by, now)
        if outcome != "ok":
            raise Conflict(REFUSALS.get(outcome, outcome), code="call_limit_reached")
        return self._public(record, await self.store.get(record.number, call_id), call_id)

    # ---- status ------------------------------------------------------------------------

    async def _set(self, facility: str, call_id: str, status: str, now: float, **f: str) -> None:
        call = await self.store.update(facility, call_id, status, now, **f)
        if not call:
            return
        try:
            await self.queues.annotate(call["info"], call["ticket"], "phone.status", status)
        except Exception as exc:  # the ticket may be gone with its day: the call still counts
            log.info("phone: no annotation on %s: %s", call.get("ticket"), exc)
        if status in FINAL:
            await self._maybe_retry(facility, call, now)

    async def _maybe_retry(self, facility: str, call: Mapping[str, str], now: float) -> None:
        settings = await self.store.settings(facility)
        known = (await self.store.known(facility)).get(call.get("ticket", ""))
        attempt = int(call.get("attempt") or 1)
        if rules.retry_of(call["status"], attempt, call.get("trigger", ""), known, settings):
            item = {"ticket": call["ticket"], "trigger": call["trigger"], "attempt": attempt + 1}
            await self.store.defer(facility, item, now + rules.RETRY_AFTER_S * self.retry_scale)

    async def callback(
        self,
        provider_name: str,
        target: str,
        params: Mapping[str, str],
        signature: str | None,
        now: float,
    ) -> None:
        """A provider's status callback to ``target`` (path and query, as received): 403
        ``bad_signature`` (nothing changes) unless it is signed with the provider's token
        over the URL rebuilt from JUNBAN_PUBLIC_URL and names a call of that provider."""
        url = self.public_url + target
        query = dict(parse_qsl(urlsplit(target).query))
        facility, call_id = query.get("f", ""), query.get("c", "")
        if not (facility.isdigit() and call_id.isalnum()):
            raise Forbidden("the callback names no call", code="bad_signature")
        provider = await self.provider(provider_name)
        update = provider.parse_callback(url, params, signature) if provider else None
        call = await self.store.get(facility, call_id) if update is not None else {}
        if update is None or not call or call.get("provider") != provider_name:
            raise Forbidden("unsigned, forged or unknown call callback", code="bad_signature")
        if call.get("sid") and update.sid and call["sid"] != update.sid:
            raise Forbidden("the callback names another call", code="bad_signature")
        await self._apply(facility, call_id, call, update.status, update.duration, now)

    async def _apply(
        self,
        facility: str,
        call_id: str,
        call: Mapping[str, str],
        status: str,
        duration: int | None,
        now: float,
    ) -> None:
        if call.get("status") in FINAL or status == call.get("status"):
            return  # a late or repeated callback changes nothing
        extra = {"duration": str(duration)} if duration is not None else {}
        if status == "answered" or (status == "completed" and call.get("answered")):
            extra["answered"] = "1"
        await self._set(facility, call_id, status, now, **extra)

    async def reconcile(self, facility: str, now: float) -> None:
        """Calls without a final callback for ``RECONCILE_AFTER_S``: asked of the provider;
        still nothing after 10 minutes: ``unknown``."""
        for call_id, started in await self.store.active(facility):
            if now - started < RECONCILE_AFTER_S * self.retry_scale:
                continue
            call = await self.store.get(facility, call_id)
            provider = await self.provider(call.get("provider", "dev"))
            update = await provider.fetch(call["sid"]) if provider and call.get("sid") else None
            if update is not None and update.status in FINAL:
                await self._apply(facility, call_id, call, update.status, update.duration, now)
            elif now - started > 600:
                await self._set(facility, call_id, "unknown", now)

    # ---- settings, providers, history -------------------------------------------------

    async def put_settings(self, facility: str, settings: PhoneSettings) -> dict[str, Any]:
        """Replace the facility's settings (the operator's caps are kept)."""
        await self.facility(facility)
        old = await self.store.settings(facility)
        caller = to_e164(settings.caller) if settings.caller else ""
        settings = replace(
            settings,
            caller=caller,
            daily_cap=old.daily_cap,
            monthly_cap=old.monthly_cap,
            provider=settings.provider or old.provider,  # left out: the one set before
        )
        if not 1 <= settings.threshold <= 10:
            raise Unprocessable("threshold is 1 to 10")
        if not set(settings.triggers) <= set(rules.TRIGGERS):
            raise Unprocessable(f"triggers are among {', '.join(rules.TRIGGERS)}")
        await self.store.put_settings(facility, settings)
        return {"facility": facility, **_settings_json(settings)}

    async def get_settings(self, facility: str) -> dict[str, Any]:
        """The facility's settings (the defaults until staff save them)."""
        await self.facility(facility)
        return {"facility": facility, **_settings_json(await self.store.settings(facility))}

    async def put_provider(self, config: ProviderConfig) -> dict[str, Any]:
        if config.kind not in ("twiml", "dev"):
            raise Unprocessable("kind is twiml or dev")
        if config.kind == "twiml" and not (
            config.base_url and config.account_sid and config.auth_token
        ):
            raise Unprocessable("a twiml provider needs base_url, account_sid and auth_token")
        await self.store.put_provider(config)
        return {
            "name": config.name,
            "kind": config.kind,
            "base_url": config.base_url,
            "account_sid": config.account_sid,
        }

    async def _calls(
        self, facility: str, frm: str | None, to: str | None, now: float
    ) -> tuple[Facility, list[dict[str, str]]]:
        record = await self.facility(facility)
        since, until = day_range(frm, to, record.tz, now)
        calls = await self.store.history(facility, since, until)
        return record, [c for c in calls if since * 1000 <= int(c.get("at", 0)) < until * 1000]

    async def history(
        self, facility: str, frm: str | None, to: str | None, now: float
    ) -> dict[str, Any]:
        """The calls placed on the days ``frm``..``to`` (``YYYY-MM-DD``, facility time;
        default today), oldest first, numbers masked."""
        record, calls = await self._calls(facility, frm, to, now)
        return {"facility": facility, "calls": [self._public(record, c, c["id"]) for c in calls]}

    async def history_csv(
        self, facility: str, frm: str | None, to: str | None, full: bool, now: float
    ) -> list[list[object]]:
        """The history as CSV rows (``CSV_HEADERS``): numbers masked unless ``full``."""
        record, calls = await self._calls(facility, frm, to, now)
        rows: list[list[object]] = []
        for c in calls:
            phone = c.get("to", "")
            rows.append(
                [
                    local_time(int(c.get("at", 0)) / 1000, record.tz),
                    c.get("info", ""),
                    c.get("number", ""),
                    national(phone) if full else mask(phone),
                    rules.KINDS.get(c.get("trigger", ""), c.get("trigger", "")),
                    RESULTS.get(c.get("status", ""), "不明"),
                    c.get("duration", ""),
                    c.get("by", ""),
                ]
            )
        return rows

    def _public(self, record: Facility, c: Mapping[str, str], call_id: str) -> dict[str, Any]:
        return {
            "id": call_id,
            "at": int(c.get("at", 0)) / 1000,
            "info": c.get("info", ""),
            "ticket": c.get("ticket", ""),
            "number": int(c.get("number") or 0),
            "phone": mask(c.get("to", "")),
            "trigger": c.get("trigger", ""),
            "attempt": int(c.get("attempt") or 1),
            "status": c.get("status", ""),
            "duration": int(c["duration"]) if c.get("duration", "").isdigit() else None,
            "by": c.get("by", ""),
        }


def day_range(frm: str | None, to: str | None, tz: str, now: float) -> tuple[float, float]:
    """[start of ``frm``, end of ``to``) as epoch seconds in ``tz``; 400 ``invalid_query``."""
    zone = ZoneInfo(tz)
    today = datetime.fromtimestamp(now, zone).date()
    try:
        first = date.fromisoformat(frm) if frm else today
        last = date.fromisoformat(to) if to else first
    except ValueError as exc:
        raise BadRequest("from and to are dates like 2026-12-07", code="invalid_query") from exc
    if last < first or (last - first).days > 92:
        raise BadRequest("from..to is at most 93 days, in order", code="invalid_query")
    start = datetime.combine(first, datetime.min.time(), zone).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).timestamp()
    return start, end


def _settings_json(s: PhoneSettings) -> dict[str, Any]:
    return {
        "threshold": s.threshold,
        "window": list(s.window),
        "retry": s.retry,
        "triggers": list(s.triggers),
        "caller": s.caller,
        "provider": s.provider,
    }
