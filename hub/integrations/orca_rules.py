"""The ORCA adapter's pure part: configuration, request building and answer parsing (no
I/O; time and zone are arguments). The shapes and codes are documented in orca.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.errors import Unprocessable
from hub.integrations.emr import PatientSummary
from hub.queue import calendar
from hub.queue.model import COUNTER_RE, split_info

KIND = "orca"
ACCEPT_PATH = "/orca11/acceptmodv2"
PATIENT_GET_PATH = "/api01rv2/patientgetv2"
PATIENT_NAME_PATH = "/api01rv2/patientlst3v2"
ACCEPT_LIST_PATH = "/api01rv2/acceptlstv2"
DEFAULT_PORT = 8000
ACCEPT_TYPES = ("ticket.issued", "ticket.linked")
"""Events that make an acceptance (01): an issued ticket, and a ticket linked to a patient
after it was issued (``PUT …/patient-ref``), which is sent then."""
CANCEL_TYPES = ("ticket.cancelled",)
EVENTS = (*ACCEPT_TYPES, *CANCEL_TYPES)
BUSY = "90"
NOT_FOUND_CODES = frozenset({"10", "11", "21"})
"""Api_Result codes for "no such patient" (patientgetv2 10/11, patientlst3v2 21)."""
SETUP_405 = (
    "ORCA refused POST (HTTP 405): on-premises ORCA needs ALLOW_METHODS=POST in "
    "receipt_route.ini (then restart jma-receipt-web)"
)
SETUP_401 = "ORCA refused the user or password (HTTP 401): check the endpoint's ORCA user"
CODE_RE = re.compile(r"^[0-9A-Za-z]{1,10}\Z")
USER_RE = re.compile(r"^[\x21-\x7e]{1,64}\Z")
CONFIG_KEYS = frozenset({"user", "counters"})
COUNTER_KEYS = frozenset({"department", "physician", "medical_information"})


# -- configuration --------------------------------------------------------------------------


def _config_error(message: str) -> Unprocessable:
    return Unprocessable(f"ORCA config: {message}", code="invalid_endpoint_config")


def validate_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The ORCA part of an endpoint: ``{"user": "ormaster", "counters": {"01":
    {"department": "01", "physician": "10001", "medical_information": "01"?}}}``: the
    ORCA user (its password is the endpoint's sealed secret) and, per counter, the
    department and physician codes (picked from ``system01lstv2`` class 01 and 02). The
    base URL (``https://host:8000``, a WebORCA path prefix included) is the endpoint's
    ``url``, checked by ``hub.integrations.guard.check_url``. 422 ``invalid_endpoint_config``."""
    if not isinstance(raw, dict):
        raise _config_error("an object")
    unknown = set(raw) - CONFIG_KEYS
    if "password" in unknown:
        raise _config_error("the password is the endpoint's secret, never in config")
    if unknown:
        raise _config_error(f"unknown fields {sorted(unknown)}")
    user = raw.get("user")
    if not isinstance(user, str) or not USER_RE.match(user):
        raise _config_error("user is the ORCA user name (1 to 64 printable ASCII characters)")
    counters = raw.get("counters")
    if not isinstance(counters, dict) or not counters:
        raise _config_error('counters maps each counter ("01") to its ORCA codes')
    clean: dict[str, dict[str, str]] = {}
    for counter, codes in counters.items():
        if not isinstance(counter, str) or not COUNTER_RE.match(counter):
            raise _config_error(f"counter {counter!r} is two digits")
        if not isinstance(codes, dict) or set(codes) - COUNTER_KEYS:
            raise _config_error(f"counter {counter}: department, physician, medical_information")
        entry: dict[str, str] = {}
        for key in ("department", "physician"):
            value = codes.get(key)
            if not isinstance(value, str) or not CODE_RE.match(value):
                raise _config_error(f"counter {counter}: {key} is ORCA's code (e.g. 01, 10001)")
            entry[key] = value
        extra = codes.get("medical_information")
        if extra is not None:
            if not isinstance(extra, str) or not (extra == "" or CODE_RE.match(extra)):
                raise _config_error(f"counter {counter}: medical_information is a code")
            entry["medical_information"] = extra
        clean[counter] = entry
    return {"user": user, "counters": clean}


# -- requests and answers (pure) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CounterCodes:
    department: str
    physician: str
    medical_information: str = ""


def codes_for(config: dict[str, Any], info: str) -> CounterCodes | None:
    """The ORCA codes of the counter of queue ``info`` ("1234-01"), None when unmapped."""
    parts = split_info(info)
    codes = config.get("counters", {}).get(parts[1]) if parts else None
    if not isinstance(codes, dict):
        return None
    return CounterCodes(
        department=str(codes["department"]),
        physician=str(codes["physician"]),
        medical_information=str(codes.get("medical_information", "")),
    )


def instant(value: Any, fallback: float) -> float:
    """Unix seconds of a ticket time as the staff projection writes it (ISO 8601 in UTC,
    "2026-12-07T04:01:00Z", or a number); ``fallback`` when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return fallback


def local_date_time(at: float, tz: str) -> tuple[str, str]:
    """(``YYYY-MM-DD``, ``HH:MM:SS``) of ``at`` in the facility's zone ``tz``."""
    moment = calendar.local_time(at, tz)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")


def acceptance_request(
    *, patient_ref: str, at: float, tz: str, codes: CounterCodes
) -> dict[str, Any]:
    """``acceptmodv2`` 受付登録 (Request_Number 01) of a patient who arrived at ``at``."""
    day, time_of_day = local_date_time(at, tz)
    record = {
        "Request_Number": "01",
        "Patient_ID": patient_ref,
        "Acceptance_Date": day,
        "Acceptance_Time": time_of_day,
        "Department_Code": codes.department,
        "Physician_Code": codes.physician,
        "Medical_Information": codes.medical_information,
    }
    return {"acceptreq": record}


def cancel_request(
    *, patient_ref: str, acceptance_id: str, at: float, tz: str, codes: CounterCodes
) -> dict[str, Any]:
    """``acceptmodv2`` 受付取消 (Request_Number 02) of acceptance ``acceptance_id`` made for
    the ticket issued at ``at`` (its date names the day of the acceptance)."""
    day, time_of_day = local_date_time(at, tz)
    record = {
        "Request_Number": "02",
        "Patient_ID": patient_ref,
        "Acceptance_Date": day,
        "Acceptance_Time": time_of_day,
        "Acceptance_Id": acceptance_id,
        "Department_Code": codes.department,
        "Physician_Code": codes.physician,
    }
    return {"acceptreq": record}


def record_of(body: Any) -> dict[str, Any]:
    """The answer record of a JSON answer (``{"acceptres": {...}}`` → ``{...}``)."""
    if isinstance(body, dict) and len(body) == 1:
        (inner,) = body.values()
        if isinstance(inner, dict):
            return inner
    return body if isinstance(body, dict) else {}


def is_success(code: str) -> bool:
    return code != "" and set(code) == {"0"}


def _sex(code: str) -> str:
    return {"1": "male", "2": "female"}.get(code.strip(), "unknown")


def summary_of(record: dict[str, Any]) -> PatientSummary:
    """A ``Patient_Information`` record as a PatientSummary."""
    return PatientSummary(
        patient_ref=str(record.get("Patient_ID", "")),
        name=str(record.get("WholeName", "")),
        kana=str(record.get("WholeName_inKana", "")),
        birth_date=str(record.get("BirthDate", "")),
        sex=_sex(str(record.get("Sex", ""))),
    )
