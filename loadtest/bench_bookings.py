"""Benchmark of time-band reservations (design clinic-operations.md, Part 1 and "Bar").

    python -m loadtest.bench_bookings [--quick] [--rounds N] [--bursts N] [--check-ins N]

Two hubs (``junban serve``, no demo data) share the first one's embedded Valkey; each round
takes a fresh facility whose counter 01 takes bookings. Bursts are sent like bench_core's:
a pre-opened keep-alive connection per request (``rawhttp``), all written in one turn of
the event loop, each latency counted from the first write.

1. overbooking: 300 simultaneous patient bookings for ONE band of capacity 30 (an hour from
   now), alternately on the two hubs: exactly 30 × 201, the rest 409 ``band_full``, the
   day's book holds those 30; time to answer all, p50/p99, batches, version conflicts.
2. burst: 500 simultaneous patient bookings on ONE hub and queue in 10 bands × 50, for
   tomorrow and for later today (which also sends the queue its counts, ``SetBands``):
   p50/p99/max, bookings/s. Bar: p99 ≤ 20 ms at 500 concurrent (bookings are new: no before).
3. check_in: 200 staff bookings of a band covering now, then all checked in at once on one
   hub: p50/p99/max; each booking one ticket with its id, numbers 1..N, N in the queue.

Rate limits: both hubs get ``hubproc.LIFTED_LIMITS`` (``JUNBAN_RATE_IP`` and
``JUNBAN_RATE_FACILITY`` 1000000/1, ``JUNBAN_SERVICE_HOURS`` 00:00-24:00), so patient
bookings take the real patient path (no token, channel web, one Art. 37 rate-limit call
each) and none is refused for the rate; scenario 3 books and checks in with a staff token
(patients cannot book a band that has started).
Writes ``loadtest/results/bookings-<timestamp>.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from hub.auth import Tokens
from loadtest import cli, hubproc, rawhttp, report
from loadtest.hubproc import REPORTED_ENV, HubProcess
from loadtest.probes import Probe, metric_delta
from loadtest.stats import fmt_ms, latency_summary

Result = dict[str, Any]
Headers = dict[str, str] | None
LATER_TZ = "Asia/Tokyo"
BAR_P99_MS = 20.0
_log = cli.logger("bench_bookings")


class PlainHub(HubProcess):
    """A hub without the demo facility (nothing here needs it, and it starts sooner)."""

    def command(self) -> list[str]:
        return [part for part in super().command() if part != "--demo"]


def noon_zone() -> str:
    """An ``Etc/GMT…`` zone where it is about noon: bands around now lie inside today."""
    offset = 12 - datetime.now(ZoneInfo("UTC")).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def local(tz: str, minutes: float = 0) -> datetime:
    return datetime.now(ZoneInfo(tz)) + timedelta(minutes=minutes)


def hhmm(moment: datetime) -> str:
    """``moment`` rounded down to 5 minutes, as HH:MM."""
    return f"{moment.hour:02}:{moment.minute - moment.minute % 5:02}"


def bands_from(first: datetime, count: int, minutes: int, capacity: int) -> list[Result]:
    at = [hhmm(first + timedelta(minutes=i * minutes)) for i in range(count + 1)]
    return [{"from": at[i], "to": at[i + 1], "capacity": capacity} for i in range(count)]


class Bench:
    def __init__(self, a: HubProcess, b: HubProcess, http: httpx.AsyncClient) -> None:
        self.a, self.b, self.http = a, b, http
        self.tokens, self.probe = Tokens(a.secret), Probe(a)
        self.checks_failed: list[str] = []

    def staff(self, info: str) -> dict[str, str]:
        token = self.tokens.issue("staff", subject="bench", facility=info.split("-")[0])
        return {"Authorization": f"Bearer {token}"}

    async def facility(self, bands: list[Result], tz: str) -> str:
        """A fresh facility, counter 01 open and taking bookings in ``bands``: its info."""
        number = str(random.randint(10_000_000, 99_999_999))
        operator = {"Authorization": f"Bearer {self.tokens.issue('operator', subject='bench')}"}
        body: Result = {
            "number": number,
            "name": f"Bench {number}",
            "address": "1-1",
            "hours": "9-18",
        }
        body |= {"tz": tz, "counters": {"01": "bookings"}}
        _ok(await self.http.post("/v1/admin/facilities", json=body, headers=operator))
        info, staff = f"{number}-01", self.staff(number)
        for action in ("open", "web/open"):
            _ok(await self.http.post(f"/v1/queues/{info}/{action}", headers=staff))
        config = {"bookings": {"bands": bands, "closed_on_holidays": False}}
        _ok(await self.http.put(f"/v1/queues/{info}/config", json=config, headers=staff))
        return info

    async def get(self, path: str, **query: str) -> Any:  # as staff
        r = _ok(await self.http.get(path, params=query, headers=self.staff(path.split("/")[3])))
        return r.json()

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.checks_failed.append(what)
            _log(f"CHECK FAILED: {what}")

    async def fire(
        self, requests: list[tuple[HubProcess, str, Result | None]], headers: Headers = None
    ) -> tuple[list[Result], Result]:
        """POST each (hub, path, body) on its own pre-opened connection, all written in one
        turn of the loop: the answers (JSON bodies with ``_status`` and ``_hub``), figures."""
        head = {"Content-Type": "application/json", **(headers or {})}
        targets = [
            (h, rawhttp.build_request("POST", path, host=h.host, body=body_bytes, headers=head))
            for h, path, body in requests
            for body_bytes in [orjson.dumps(body) if body else b""]
        ]
        conns: list[rawhttp.RawConnection] = []
        for start in range(0, len(targets), 100):
            part = targets[start : start + 100]
            conns += await asyncio.gather(*(rawhttp.connect(h.host, h.port) for h, _ in part))
        await asyncio.sleep(0.5)  # let the hubs accept every connection first
        hubs = (self.a, self.b)
        before = [await hubproc.scrape(h) for h in hubs]
        snapshot, b_cpu = await self.probe.snapshot(), hubproc.cpu_seconds(self.b.pid)
        t0 = time.perf_counter()
        futures = [conn.send(data) for conn, (_, data) in zip(conns, targets, strict=True)]
        written_ms = (time.perf_counter() - t0) * 1000
        try:
            answers = await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
        finally:
            for conn in conns:
                conn.close()
        window = self.probe.between(snapshot, await self.probe.snapshot())
        b_pct = window.pct(hubproc.cpu_seconds(self.b.pid) - b_cpu)
        after = [await hubproc.scrape(h) for h in hubs]
        latencies = [(answer.at - t0) * 1000 for answer in answers]
        bodies = [
            {**orjson.loads(answer.body), "_status": answer.status, "_hub": "ab"[hubs.index(h)]}
            for answer, (h, _) in zip(answers, targets, strict=True)
        ]
        cpu = window.cpu() | {"hub_b_cpu_pct": b_pct}
        cpu["other_cpu_pct"] = round(max(0.0, cpu["other_cpu_pct"] - b_pct), 1)
        return bodies, {
            "requests": len(targets),
            "answers": dict(Counter(_outcome(x) for x in bodies)),
            "write_all_ms": round(written_ms, 2),
            "all_answered_ms": round(max(latencies), 2),
            "per_s": round(len(targets) / max(latencies) * 1000, 1),
            "latency": latency_summary(latencies),
            "batches": _summed(before, after, "junban_batch_commands_count"),
            "conflicts": _summed(before, after, "junban_append_conflicts_total"),
            "redis_calls_per_request": round(sum(window.redis_calls.values()) / len(targets), 2),
            "cpu": cpu,
            "other_processes": {k: v for k, v in window.others.items() if str(self.b.pid) not in k},
        }


def _ok(r: httpx.Response) -> httpx.Response:
    if r.is_error:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")
    return r


def _summed(before: list[dict[str, float]], after: list[dict[str, float]], name: str) -> int:
    """A metric's change, summed over the hubs."""
    return int(sum(metric_delta(x, y, name) for x, y in zip(before, after, strict=True)))


def _outcome(body: Result) -> str:
    code = body.get("error", {}).get("code") if body["_status"] >= 400 else None
    return f"{body['_status']} {code}" if code else str(body["_status"])


def patient(day: str, band: str, n: int) -> Result:
    return {"date": day, "band": band, "name": f"患者 {n}", "phone": f"090-0000-{n % 10_000:04}"}


async def overbooking(bench: Bench, requests: int, capacity: int) -> Result:
    """``requests`` simultaneous patient bookings for one band of ``capacity``, alternately
    on the two hubs: exactly ``capacity`` accepted, every other one refused ``band_full``."""
    tz = noon_zone()
    band: Result = {"from": hhmm(local(tz, 60)), "to": hhmm(local(tz, 90)), "capacity": capacity}
    info, day = await bench.facility([band], tz), local(tz).date().isoformat()
    path, hubs = f"/v1/queues/{info}/bookings", (bench.a, bench.b)
    bodies, row = await bench.fire(
        [(hubs[n % 2], path, patient(day, band["from"], n)) for n in range(requests)]
    )
    accepted = [x for x in bodies if x["_status"] == 201]
    ids = {x["booking"]["id"] for x in accepted}
    booked = sorted(x["id"] for x in (await bench.get(path, date=day))["bookings"])
    full = row["answers"].get("409 band_full", 0)
    row |= {"info": info, "capacity": capacity, "accepted": len(accepted), "band_full": full}
    row |= {"per_hub": dict(Counter(x["_hub"] for x in accepted)), "book_holds": len(booked)}
    row["errors"] = row["requests"] - len(accepted) - full
    bench.check(
        len(accepted) == capacity == len(ids) and row["errors"] == 0 and booked == sorted(ids),
        f"overbooking {info}: {row['answers']}, book {len(booked)}",
    )
    return row


async def burst(bench: Bench, size: int, today: bool) -> Result:
    """``size`` simultaneous patient bookings on hub A in 10 bands with room for all."""
    per_band = -(-size // 10)
    if today:
        tz = noon_zone()
        bands, day = bands_from(local(tz, 60), 10, 15, per_band), local(tz).date().isoformat()
    else:
        tz, day = LATER_TZ, local(LATER_TZ, 24 * 60).date().isoformat()
        bands = bands_from(local(tz).replace(hour=9, minute=0), 10, 30, per_band)
    info = await bench.facility(bands, tz)
    path = f"/v1/queues/{info}/bookings"
    bodies, row = await bench.fire(
        [(bench.a, path, patient(day, bands[n % 10]["from"], n)) for n in range(size)]
    )
    ids = {x["booking"]["id"] for x in bodies if x["_status"] == 201}
    booked = (await bench.get(path, date=day))["bookings"]
    row |= {"info": info, "date": "today" if today else "tomorrow", "bands": f"10 × {per_band}"}
    bench.check(
        row["answers"] == {"201": size} and len(ids) == size == len(booked),
        f"burst {info}: {row['answers']}, {len(ids)} ids, book {len(booked)}",
    )
    return row


async def check_ins(bench: Bench, count: int) -> Result:
    """``count`` staff bookings of a band covering now, then all checked in at once."""
    tz = noon_zone()
    band: Result = {"from": hhmm(local(tz, -5)), "to": hhmm(local(tz, 60)), "capacity": count}
    info = await bench.facility([band], tz)
    day, staff = local(tz).date().isoformat(), bench.staff(info)
    path, desk = f"/v1/queues/{info}/bookings", {"channel": "desk"}
    made, booking = await bench.fire(
        [(bench.a, path, patient(day, band["from"], n) | desk) for n in range(count)], staff
    )
    ids = [x["booking"]["id"] for x in made if x["_status"] == 201]
    bench.check(len(set(ids)) == count, f"check-in {info}: bookings {booking['answers']}")
    tickets, row = await bench.fire([(bench.a, f"{path}/{i}/check-in", None) for i in ids], staff)
    answered = [(i, x["ticket"]) for i, x in zip(ids, tickets, strict=True) if x["_status"] == 200]
    in_queue = (await bench.get(f"/v1/queues/{info}/staff"))["tickets"]
    queue = {t["id"]: t["number"] for t in in_queue}  # one per booking, so the same size
    numbers = sorted(queue.values())
    row |= {"info": info, "bookings": booking, "in_queue": len(in_queue)}
    row |= {"numbers": f"{numbers[0]}..{numbers[-1]}" if numbers else ""}
    row["duplicates"] = len(in_queue) - len(set(numbers))  # ids or numbers given twice
    same = all(i == t["id"] and queue.get(i) == t["number"] for i, t in answered)
    ok = row["duplicates"] == 0 and set(queue) <= set(ids) and same  # the answers are the queue's
    bench.check(ok, f"check-in {info}: {row['duplicates']} duplicates, answers the queue's: {same}")
    ok = row["answers"] == {"200": count} and set(queue) == set(ids)
    bench.check(ok and numbers == list(range(1, count + 1)), f"check-in {info}: {row['answers']}")
    return row


async def main_async(args: argparse.Namespace) -> Result:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the hubs inherit it
    a = PlainHub()
    b = PlainHub(secret=a.secret, extra_env={"JUNBAN_REDIS_URL": a.redis_url})
    results: Result = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "params": vars(args),
        "machine": report.machine_info() | {"nofile": hard},
        "hub_env": {k: v for k, v in a.env().items() if k in REPORTED_ENV},
    }
    bench: Bench | None = None
    try:
        await a.start()
        await b.start()
        results["software"] = await report.software_info(a)
        async with httpx.AsyncClient(base_url=f"http://{a.host}:{a.port}", timeout=60) as http:
            bench = it = Bench(a, b, http)
            runs: list[tuple[str, int, Callable[[], Awaitable[Result]]]] = [
                ("overbooking", args.rounds, lambda: overbooking(it, args.requests, args.capacity)),
                ("burst", args.bursts, lambda: burst(it, args.burst_size, False)),
                ("burst", args.bursts, lambda: burst(it, args.burst_size, True)),
                ("check_in", args.check_in_rounds, lambda: check_ins(it, args.check_ins)),
            ]
            for key, count, run in runs:
                for _ in range(count):
                    results.setdefault(key, []).append(row := await run())
                    _log(f"{key}: {row['answers']}, p50/p99/max {_lat(row['latency'])} ms")
    except (Exception, asyncio.CancelledError) as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"FAILED: {results['error']}\n{a.log_tail()}\n{b.log_tail()}")
    finally:
        if bench is not None:
            await bench.probe.close()
            if bench.checks_failed:
                results["checks_failed"] = bench.checks_failed
        results["hub_stop"] = {"b": b.stop(), "a": a.stop()}  # a last: it runs the Valkey
        results["hub_log_warnings"] = {"a": a.log_warnings(), "b": b.log_warnings()}
        for hub in (a, b) if not args.keep_data else ():
            hub.remove_data()
        cli.write_results("bookings", results, render, _log)
    return results


def _lat(lat: dict[str, float], keys: tuple[str, ...] = ("p50", "p99", "max")) -> str:
    return " / ".join(fmt_ms(lat[f"{k}_ms"]) for k in keys)


def _cpu(row: Result) -> str:
    c = {k.removesuffix("_cpu_pct"): f"{v:.0f}" for k, v in row["cpu"].items()}
    hubs = c["hub"] + f" + {c['hub_b']}" * (row["cpu"]["hub_b_cpu_pct"] >= 1)
    return f"{hubs} / {c['valkey']} / {c['bench']} / {c['other']}"


def _table(title: str, header: str, rows: list[list[Any]], note: str) -> list[str]:
    heads = [*header.split("|"), "CPU % hubs / Valkey / bench / other"]
    out = [f"## {title}", "", "| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*out, "", note, ""]


def render(results: Result) -> str:
    out = [f"# Bookings benchmark — {results['started']}", "", f"Machine: {results['machine']}"]
    out += [f"Hub env: {results.get('hub_env')}", ""]
    out += [f"**{k}:** {results[k]}\n" for k in ("error", "checks_failed") if k in results]
    rows = [
        [r["requests"], r["capacity"], r["accepted"], r["per_hub"], r["band_full"], r["errors"]]
        + [r["book_holds"], r["all_answered_ms"], _lat(r["latency"]), r["batches"]]
        + [r["conflicts"], _cpu(r)]
        for r in results.get("overbooking", [])
    ]
    out += _table(
        "1. Simultaneous patient bookings for one band, alternately on two hubs",
        "requests|capacity|accepted|per hub|band_full|errors|book holds|all answered ms"
        "|p50 / p99 / max ms|batches|conflicts",
        rows,
        "Bar: 0 overbookings (accepted = capacity = the book's bookings, no error).",
    )
    rows = [
        [r["date"], r["requests"], r["bands"], r["answers"], r["all_answered_ms"], r["per_s"]]
        + [_lat(r["latency"]), r["batches"], r["redis_calls_per_request"], _cpu(r)]
        for r in results.get("burst", [])
    ]
    out += _table(
        "2. Simultaneous patient bookings on one queue, one hub",
        "date|requests|bands|answers|all answered ms|bookings/s|p50 / p99 / max ms|batches"
        "|Redis calls/req",
        rows,
        f"Bar: p99 ≤ {BAR_P99_MS:.0f} ms at 500 concurrent on one queue (from the first write).",
    )
    rows = [
        [r["requests"], r["answers"], r["duplicates"], r["numbers"], r["in_queue"]]
        + [r["all_answered_ms"], _lat(r["latency"]), _lat(r["bookings"]["latency"], ("p50", "p99"))]
        + [_cpu(r)]
        for r in results.get("check_in", [])
    ]
    out += _table(
        "3. Simultaneous check-ins (staff, one hub)",
        "check-ins|answers|duplicates|numbers|in queue|all answered ms|p50 / p99 / max ms"
        "|the staff bookings before: p50 / p99 ms",
        rows,
        "Checked: one ticket per booking (in the queue), its id the booking's, numbers 1..N.",
    )
    return "\n".join(out)


def main() -> None:
    import uvloop

    parser = cli.new_parser("python -m loadtest.bench_bookings", __doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run (~20 s)")
    parser.add_argument("--keep-data", action="store_true", help="keep the hubs' temp dirs")
    for name, default, text in (
        ("rounds", 5, "scenario 1 rounds (quick: 2)"),
        ("requests", 300, "scenario 1 requests a round"),
        ("capacity", 30, "scenario 1 band capacity"),
        ("bursts", 3, "scenario 2 bursts per date (quick: 1)"),
        ("burst-size", 500, "scenario 2 requests a burst"),
        ("check-ins", 200, "scenario 3 check-ins a round (at most 500: a band's capacity)"),
        ("check-in-rounds", 3, "scenario 3 rounds (quick: 1)"),
    ):
        parser.add_argument(f"--{name}", type=int, default=default, help=text)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.bursts, args.check_in_rounds = 2, 1, 1
    results = uvloop.run(main_async(args))
    raise SystemExit(1 if "error" in results or "checks_failed" in results else 0)


if __name__ == "__main__":
    main()
