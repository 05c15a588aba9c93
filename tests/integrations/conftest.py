"""Fixtures of the integration tests: the local peers the adapters talk to (the ORCA fake,
the FHIR server, the webhook receiver), each a real server in a subprocess."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, stop_process
from tests.peerproc import PeerProcess

PEERS = Path(__file__).resolve().parents[1] / "peers"

# -- ORCA (tests/peers/orca_fake.py) --------------------------------------------------------

ORCA_USER = "ormaster"
ORCA_PASSWORD = "orca-test-password"


class OrcaFake(PeerProcess):
    """The fake ORCA in its own process: ``url`` is its base URL; ``control`` scripts it."""

    script = "orca_fake.py"
    label = "the ORCA fake"

    def env(self) -> dict[str, str]:
        return {"ORCA_FAKE_USER": ORCA_USER, "ORCA_FAKE_PASSWORD": ORCA_PASSWORD}

    def control(self, **change: Any) -> None:
        r = httpx.post(self.url + "/_control", json=change, timeout=5)
        assert r.status_code == 200, r.text

    def log(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/_control/log", timeout=5).json()
        return answer


@pytest.fixture(scope="session")
def orca_server() -> Iterator[OrcaFake]:
    fake = OrcaFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def orca(orca_server: OrcaFake) -> Iterator[OrcaFake]:
    """The fake ORCA, reset (no acceptances, no scripted answers) for each test."""
    orca_server.control(reset=True)
    yield orca_server
    orca_server.control(reset=True)


# -- FHIR (tests/peers/fhir_server.mjs: Medplum's FhirRouter + MemoryRepository) -------------

FHIR_INSTITUTION = "1312345678"
"""The test clinic's 10-digit medical institution code (its JP Core patient-id system)."""
FHIR_TOKEN = "fhir-test-token"
FHIR_PATIENTS: tuple[dict[str, str], ...] = (
    {"patient_ref": "00123", "family": "山田", "given": "太郎", "family_kana": "ヤマダ",
     "given_kana": "タロウ", "birth_date": "1970-01-01", "sex": "male", "phone": "090-1234-5678"},
    {"patient_ref": "00456", "family": "山田", "given": "花子", "family_kana": "ヤマダ",
     "given_kana": "ハナコ", "birth_date": "1975-05-05", "sex": "female", "phone": "0312345678"},
    {"patient_ref": "00789", "family": "佐藤", "given": "次郎", "family_kana": "サトウ",
     "given_kana": "ジロウ", "birth_date": "1970-01-01", "sex": "male", "phone": ""},
)  # fmt: skip
"""JP Core patients seeded before each FHIR test (IDE and SYL names, phone, birth date)."""


class FhirServer:
    """The Node FHIR R4 server in its own process: ``url`` is its FHIR base."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + "/fhir"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> FhirServer:
        if not (PEERS / "node_modules" / "@medplum" / "fhir-router").is_dir():
            raise RuntimeError("the FHIR server needs `npm ci --prefix tests/peers` (scripts/test)")
        command = ["node", str(PEERS / "fhir_server.mjs"), str(self.port)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "ready PORT" once the definitions are indexed
        if not line.startswith(b"ready"):
            self.stop()
            raise RuntimeError(f"the FHIR server did not start: {line!r}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/metadata", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the FHIR server did not answer")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def reset(self) -> None:
        assert httpx.post(self.root + "/_junban/reset", timeout=5).status_code == 200

    def fail_next(self, status: int, count: int = 1) -> None:
        body = {"status": status, "count": count}
        assert httpx.post(self.root + "/_junban/fail", json=body, timeout=5).status_code == 200

    def last_auth(self) -> str | None:
        answer: str | None = httpx.get(self.root + "/_junban/last-auth", timeout=5).json()[
            "authorization"
        ]
        return answer

    def seed(self, patient: dict[str, Any]) -> dict[str, Any]:
        r = httpx.post(
            self.url + "/Patient",
            json=patient,
            headers={"Content-Type": "application/fhir+json"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/{resource_type}", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return [e["resource"] for e in r.json().get("entry", [])]


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[FhirServer]:
    server = FhirServer().start()
    yield server
    server.stop()


@pytest.fixture
def fhir(fhir_server: FhirServer) -> Iterator[FhirServer]:
    """The FHIR server, emptied and seeded with ``FHIR_PATIENTS`` (JP Core) for each test."""
    from hub.integrations.fhir_resources import jp_core_patient

    fhir_server.reset()
    for patient in FHIR_PATIENTS:
        fhir_server.seed(
            jp_core_patient(
                institution_code=FHIR_INSTITUTION,
                patient_ref=patient["patient_ref"],
                family=patient["family"],
                given=patient["given"],
                family_kana=patient["family_kana"],
                given_kana=patient["given_kana"],
                birth_date=patient["birth_date"],
                sex=patient["sex"],
                phone=patient["phone"] or None,
            )
        )
    yield fhir_server
    fhir_server.reset()
