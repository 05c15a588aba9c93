"""A fake ORCA (日医標準レセプトソフト API) in JSON mode, for the ORCA adapter's tests.

Run as ``python tests/peers/orca_fake.py --port N`` (user and password from
``ORCA_FAKE_USER`` / ``ORCA_FAKE_PASSWORD``, Basic auth on every API call). Shapes follow the
public specification's samples (www.orca.med.or.jp/receipt/tec/api/: acceptmod.html,
patientget.html, patientshimei.html, acceptancelst.html), in JSON: a request
``{"acceptreq": {...}}``, an answer ``{"acceptres": {...}}`` with ``Api_Result`` and
``Api_Result_Message``.

Implemented: ``POST /orca11/acceptmodv2`` (01 登録, 02 取消), ``GET /api01rv2/patientgetv2``,
``POST /api01rv2/patientlst3v2?class=01``, ``POST /api01rv2/acceptlstv2?class=01|02|03``.
Control (no auth): ``POST /_control`` with ``{"busy": n}`` (the next n acceptmodv2 calls
answer 90 他端末使用中), ``{"mode405": true}`` (every POST answers HTTP 405, as an
on-premises ORCA without ``ALLOW_METHODS=POST``), ``{"fail5xx": n}``, ``{"accept_result":
"K3"}``, ``{"reset": true}``; ``GET /_control/log`` answers every acceptmodv2 request seen
(busy ones included) and the acceptances with their state.
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PATIENTS: list[dict[str, str]] = [
    {"Patient_ID": "00012", "WholeName": "日医 太郎", "WholeName_inKana": "ニチイ タロウ",
     "BirthDate": "1970-01-01", "Sex": "1"},
    {"Patient_ID": "00013", "WholeName": "日医 花子", "WholeName_inKana": "ニチイ ハナコ",
     "BirthDate": "1975-05-05", "Sex": "2"},
    {"Patient_ID": "00200", "WholeName": "山田 一郎", "WholeName_inKana": "ヤマダ イチロウ",
     "BirthDate": "1980-12-24", "Sex": "1"},
    {"Patient_ID": "00201", "WholeName": "山田 次郎", "WholeName_inKana": "ヤマダ ジロウ",
     "BirthDate": "1980-12-24", "Sex": "1"},
]  # fmt: skip
DEPARTMENTS = {"01": "内科", "02": "精神科", "09": "小児科"}
PHYSICIANS = {"10001": "日本 一", "10002": "日本 二"}


class State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.busy = 0
        self.fail5xx = 0
        self.mode405 = False
        self.accept_result = "00"
        self.requests: list[dict[str, Any]] = []
        self.acceptances: list[dict[str, str]] = []
        self.next_id: dict[str, int] = {}


STATE = State()


def _now() -> tuple[str, str]:
    t = time.localtime()
    return time.strftime("%Y-%m-%d", t), time.strftime("%H:%M:%S", t)


def _authorised(request: Request) -> bool:
    expected = f"{os.environ.get('ORCA_FAKE_USER', 'ormaster')}:" + os.environ.get(
        "ORCA_FAKE_PASSWORD", "ormaster"
    )
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        return base64.b64decode(value).decode() == expected
    except ValueError:
        return False


def _answer(root: str, record: dict[str, Any], status: int = 200) -> JSONResponse:
    day, clock = _now()
    head = {"Information_Date": day, "Information_Time": clock}
    return JSONResponse({root: {**head, **record}}, status_code=status)


def _result(code: str, message: str) -> dict[str, str]:
    return {"Api_Result": code, "Api_Result_Message": message}


def _patient(pid: str) -> dict[str, str] | None:
    key = pid.lstrip("0")
    return next((p for p in PATIENTS if p["Patient_ID"].lstrip("0") == key), None)


async def _body(request: Request, root: str) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except ValueError:
        return None
    inner = data.get(root) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else None


def _guard(request: Request) -> Response | None:
    """401 without the right Basic credentials; 405 to a POST in 405 mode."""
    if not _authorised(request):
        return Response("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Basic"})
    if request.method == "POST" and STATE.mode405:
        return Response("Method Not Allowed", status_code=405)
    return None


async def acceptmod(request: Request) -> Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    req = await _body(request, "acceptreq")
    STATE.requests.append({"at": time.time(), "body": req})
    if STATE.fail5xx > 0:
        STATE.fail5xx -= 1
        return Response("Internal Server Error", status_code=500)
    if STATE.busy > 0:
        STATE.busy -= 1
        return _answer("acceptres", _result("90", "他端末使用中"))
    if req is None:
        return _answer("acceptres", _result("01", "リクエストが不正です"))
    number = str(req.get("Request_Number", ""))
    patient = _patient(str(req.get("Patient_ID", "")))
    if patient is None:
        return _answer("acceptres", _result("10", "患者番号に該当する患者が存在しません"))
    day = str(req.get("Acceptance_Date") or _now()[0])
    clock = str(req.get("Acceptance_Time") or _now()[1])
    department = str(req.get("Department_Code", ""))
    physician = str(req.get("Physician_Code", ""))
    info = {
        "Patient_Information": {
            k: patient[k] for k in ("Patient_ID", "WholeName", "WholeName_inKana", "BirthDate")
        }
    }
    if number == "01":
        if department not in DEPARTMENTS:
            return _answer("acceptres", _result("16", "診療科が存在しません"))
        if physician not in PHYSICIANS:
            return _answer("acceptres", _result("17", "ドクターが存在しません"))
        STATE.next_id[day] = STATE.next_id.get(day, 0) + 1
        acceptance_id = f"{STATE.next_id[day]:05d}"
        STATE.acceptances.append({
            "Acceptance_Id": acceptance_id, "Acceptance_Date": day, "Acceptance_Time": clock,
            "Patient_ID": patient["Patient_ID"], "Department_Code": department,
            "Physician_Code": physician, "state": "accepted",
        })  # fmt: skip
        STATE.requests[-1]["acceptance_id"] = acceptance_id
        message = "受付登録終了"
        record = {
            **_result(STATE.accept_result, message), "Reskey": "Acceptance_Info",
            "Acceptance_Date": day, "Acceptance_Time": clock, "Acceptance_Id": acceptance_id,
            "Department_Code": department, "Department_WholeName": DEPARTMENTS[department],
            "Physician_Code": physician, "Physician_WholeName": PHYSICIANS[physician], **info,
        }  # fmt: skip
        return _answer("acceptres", record)
    if number == "02":
        wanted = str(req.get("Acceptance_Id", ""))
        for acceptance in STATE.acceptances:
            if (
                acceptance["Acceptance_Id"] == wanted
                and acceptance["Acceptance_Date"] == day
                and acceptance["Patient_ID"] == patient["Patient_ID"]
                and acceptance["state"] == "accepted"
            ):
                acceptance["state"] = "cancelled"
                record = {**_result("00", "受付取消終了"), "Acceptance_Id": wanted, **info}
                return _answer("acceptres", record)
        return _answer("acceptres", _result("22", "受付IDが存在しません"))
    return _answer("acceptres", _result("01", "リクエスト番号が不正です"))


def _summary(patient: dict[str, str]) -> dict[str, str]:
    return dict(patient)


async def patientget(request: Request) -> Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    patient = _patient(request.query_params.get("id", ""))
    if patient is None:
        return _answer("patientinfores", _result("10", "該当する患者が存在しません"))
    record = {**_result("00", "処理終了"), "Reskey": "Patient Info",
              "Patient_Information": _summary(patient)}  # fmt: skip
    return _answer("patientinfores", record)


def _norm(text: str) -> str:
    return text.replace(" ", "").replace("\u3000", "")


async def patientlst3(request: Request) -> Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    req = await _body(request, "patientlst3req")
    name = _norm(str((req or {}).get("WholeName", "")))
    if not name:
        return _answer("patientlst2res", _result("01", "氏名の入力がありません"))
    start = str((req or {}).get("Birth_StartDate") or "0000-00-00")
    end = str((req or {}).get("Birth_EndDate") or "9999-99-99")
    found = [
        _summary(p)
        for p in PATIENTS
        if (_norm(p["WholeName"]).startswith(name) or _norm(p["WholeName_inKana"]).startswith(name))
        and start <= p["BirthDate"] <= end
    ]
    if not found:
        return _answer("patientlst2res", _result("21", "対象患者が存在しません"))
    record = {
        **_result("00", "処理終了"),
        "Reskey": "Patient Info",
        "Target_Patient_Count": f"{len(found):03d}",
        "Patient_Information": found,
    }
    return _answer("patientlst2res", record)


async def acceptlst(request: Request) -> Response:
    refused = _guard(request)
    if refused is not None:
        return refused
    req = await _body(request, "acceptlstreq") or {}
    day = str(req.get("Acceptance_Date") or _now()[0])
    wanted = {"01": ("accepted",), "02": (), "03": ("accepted",)}.get(
        request.query_params.get("class", "01"), ("accepted",)
    )
    rows = [
        {k: v for k, v in a.items() if k != "state"}
        | {"Patient_Information": _summary(_patient(a["Patient_ID"]) or {})}
        for a in STATE.acceptances
        if a["Acceptance_Date"] == day and a["state"] in wanted
    ]
    if not rows:
        return _answer("acceptlstres", _result("21", "対象の受付はありませんでした"))
    record = {**_result("00", "処理終了"), "Acceptance_Date": day, "Acceptlst_Information": rows}
    return _answer("acceptlstres", record)


async def control(request: Request) -> Response:
    change = await request.json()
    if change.get("reset"):
        STATE.reset()
    for key in ("busy", "fail5xx"):
        if key in change:
            setattr(STATE, key, int(change[key]))
    if "mode405" in change:
        STATE.mode405 = bool(change["mode405"])
    if "accept_result" in change:
        STATE.accept_result = str(change["accept_result"])
    return JSONResponse({"ok": True})


async def control_log(request: Request) -> Response:
    return JSONResponse({"requests": STATE.requests, "acceptances": STATE.acceptances})


async def health(request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/orca11/acceptmodv2", acceptmod, methods=["GET", "POST"]),
        Route("/api01rv2/patientgetv2", patientget, methods=["GET"]),
        Route("/api01rv2/patientlst3v2", patientlst3, methods=["GET", "POST"]),
        Route("/api01rv2/acceptlstv2", acceptlst, methods=["GET", "POST"]),
        Route("/_control", control, methods=["POST"]),
        Route("/_control/log", control_log, methods=["GET"]),
        Route("/_health", health, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
