"""A TwiML call simulator: a Twilio-compatible voice REST API for the phone tests.

Run as ``python tests/peers/call_simulator.py --port N`` (account sid and auth token from
``SIM_ACCOUNT_SID`` / ``SIM_AUTH_TOKEN``). ``POST /2010-04-01/Accounts/{sid}/Calls.json``
takes a form (Basic auth with the sid and token; ``To``, ``From``, ``Twiml``,
``StatusCallback``, ``StatusCallbackEvent`` repeated), parses the TwiML (a ``Say`` without
``language="ja-JP"``, or anything but Say/Pause/Hangup, is refused with 400) and answers 201
``{"sid": "CA…", "status": "queued"}``. Then it posts the status callbacks to
``StatusCallback``, form-encoded and signed with ``X-Twilio-Signature`` (base64 HMAC-SHA1 of
the URL followed by the sorted parameters, with the auth token): ``initiated``, ``ringing``,
then by the outcome scripted for the number: ``answer`` (``in-progress``, then ``completed``
with ``CallDuration``), ``busy``, ``no-answer``, ``failed``, or ``lost`` (nothing after
ringing; ``GET …/Calls/{sid}.json`` then answers ``completed``).

Control (no auth): ``POST /_control`` ``{"outcomes": {"+8190…": "busy"}, "reset": true}``;
``GET /_control/log`` answers the calls (with their parsed TwiML) and the callbacks sent
(url, params, signature, the hub's status code); ``GET /_health``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SID = os.environ.get("SIM_ACCOUNT_SID", "AC" + "0" * 32)
TOKEN = os.environ.get("SIM_AUTH_TOKEN", "sim-token")
LOCK = threading.Lock()
STATE: dict[str, Any] = {"outcomes": {}, "calls": [], "callbacks": []}


def sign(url: str, params: dict[str, str]) -> str:
    data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def parse_twiml(text: str) -> list[dict[str, str]]:
    """The verbs of a TwiML document; ValueError when it is not one the hub may send."""
    root = ET.fromstring(text)
    if root.tag != "Response":
        raise ValueError("the root is not Response")
    verbs = []
    for el in root:
        if el.tag == "Say":
            if el.get("language") != "ja-JP":
                raise ValueError('Say without language="ja-JP"')
            verbs.append({"verb": "Say", "text": el.text or ""})
        elif el.tag in ("Pause", "Hangup"):
            verbs.append({"verb": el.tag, **el.attrib})
        else:
            raise ValueError(f"unexpected verb {el.tag}")
    return verbs


def post_callbacks(call: dict[str, Any], outcome: str) -> None:
    statuses = ["initiated", "ringing"]
    statuses += {
        "answer": ["in-progress", "completed"],
        "busy": ["busy"],
        "no-answer": ["no-answer"],
        "failed": ["failed"],
        "lost": [],
    }.get(outcome, ["completed"])
    for n, status in enumerate(statuses):
        time.sleep(0.05)
        params = {
            "AccountSid": SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call["sid"],
            "CallStatus": status,
            "Direction": "outbound-api",
            "From": call["from"],
            "To": call["to"],
            "SequenceNumber": str(n),
            "CallbackSource": "call-progress-events",
        }
        if status == "completed":
            params["CallDuration"] = "12"
        url = call["callback"]
        signature = sign(url, params)
        body = urllib.parse.urlencode(params).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                code = answer.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except OSError:
            code = 0
        with LOCK:
            STATE["callbacks"].append(
                {"url": url, "params": params, "signature": signature, "status": code}
            )
    call["status"] = {"answer": "completed", "lost": "completed"}.get(outcome, outcome)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        return hmac.compare_digest(self.headers.get("Authorization", ""), expected)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_health":
            return self._json(200, {"ok": True})
        if path == "/_control/log":
            with LOCK:
                return self._json(200, {"calls": STATE["calls"], "callbacks": STATE["callbacks"]})
        prefix = f"/2010-04-01/Accounts/{SID}/Calls/"
        if path.startswith(prefix) and path.endswith(".json"):
            if not self._authorized():
                return self._json(401, {"code": 20003, "message": "Authenticate"})
            sid = path[len(prefix) : -len(".json")]
            for call in STATE["calls"]:
                if call["sid"] == sid:
                    return self._json(200, {"sid": sid, "status": call["status"], "duration": "7"})
            return self._json(404, {"code": 20404, "message": "not found"})
        return self._json(404, {"message": "no route"})

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        if path == "/_control":
            change = json.loads(body or b"{}")
            with LOCK:
                if change.get("reset"):
                    STATE.update(outcomes={}, calls=[], callbacks=[])
                STATE["outcomes"].update(change.get("outcomes", {}))
            return self._json(200, {"ok": True})
        if path != f"/2010-04-01/Accounts/{SID}/Calls.json":
            return self._json(404, {"message": "no route"})
        if not self._authorized():
            return self._json(401, {"code": 20003, "message": "Authenticate"})
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._json(400, {"code": 21201, "message": "a form is expected"})
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        one = {k: v[0] for k, v in form.items()}
        missing = [k for k in ("To", "From", "Twiml", "StatusCallback") if not one.get(k)]
        if missing:
            return self._json(400, {"code": 21201, "message": f"missing {missing}"})
        try:
            verbs = parse_twiml(one["Twiml"])
        except (ValueError, ET.ParseError) as exc:
            return self._json(400, {"code": 12100, "message": f"bad TwiML: {exc}"})
        call = {
            "sid": "CA" + secrets.token_hex(16),
            "to": one["To"],
            "from": one["From"],
            "callback": one["StatusCallback"],
            "events": form.get("StatusCallbackEvent", []),
            "verbs": verbs,
            "status": "queued",
            "at": time.time(),
        }
        with LOCK:
            STATE["calls"].append(call)
            outcome = STATE["outcomes"].get(one["To"], "answer")
        threading.Thread(target=post_callbacks, args=(call, outcome), daemon=True).start()
        return self._json(201, {"sid": call["sid"], "status": "queued", "to": one["To"]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
