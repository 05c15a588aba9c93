"""Fixtures of the notification tests (issue 17): helpers to take tickets and wait for what
a real hub process sends. Helpers for each channel's peer (the push service, the SMTP server,
the LINE fake) are added below by the channel's tests."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import staff_headers

T = TypeVar("T")


async def until(probe: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
    """``probe()``'s first truthy answer, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {timeout} s")
        await asyncio.sleep(0.1)


async def take_web(client: httpx.AsyncClient, info: str, **body: Any) -> tuple[str, str, int]:
    """A web ticket in queue ``info``: (ticket id, ticket token, number)."""
    r = await client.post(f"/v1/queues/{info}/tickets", json={"channel": "web", **body})
    assert r.status_code == 201, r.text
    answer = r.json()
    return answer["ticket"]["id"], answer["token"], answer["ticket"]["number"]


async def take_desk(client: httpx.AsyncClient, info: str, **body: Any) -> str:
    """A desk ticket in queue ``info`` (staff): its id."""
    facility = info.partition("-")[0]
    r = await client.post(
        f"/v1/queues/{info}/tickets", json={"channel": "desk", **body},
        headers=staff_headers(facility),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    ticket_id: str = r.json()["ticket"]["id"]
    return ticket_id


# -- the SMTP server (aiosmtpd in this process; tests/notify/test_email.py) -----------------


class SmtpSink:
    """An aiosmtpd handler that keeps every mail it accepts (envelope and parsed message)."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key: (cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# -- the push service (web-push-testing 1.2.2 in Node; tests/notify/test_webpush.py) --------

PUSH_SERVER_JS = (
    Path(__file__).resolve().parents[1] / "peers/node_modules/web-push-testing/src/bin/server.js"
)


class PushService:
    """``web-push-testing``: an RFC 8030 push service that checks the VAPID JWT and decrypts
    (aes128gcm) what it accepts. Its own server script, run directly (its CLI would keep a
    pid file in the working directory)."""

    def __init__(self) -> None:
        import subprocess

        from tests.conftest import free_port

        if not PUSH_SERVER_JS.is_file():
            raise RuntimeError("web-push-testing needs `npm ci --prefix tests/peers`")
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.proc = subprocess.Popen(
            ["node", str(PUSH_SERVER_JS), str(self.port)], stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "Server running on port N"
        if b"running" not in line:
            self.stop()
            raise RuntimeError(f"web-push-testing did not start: {line!r}")

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A new subscription for this VAPID public key: ``{endpoint, keys, clientHash}``."""
        r = httpx.post(
            f"{self.url}/subscribe",
            json={"userVisibleOnly": "true", "applicationServerKey": application_server_key},
            timeout=5,
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def messages(self, client_hash: str) -> list[str]:
        """The decrypted payloads the service accepted for that subscription."""
        r = httpx.post(f"{self.url}/get-notifications", json={"clientHash": client_hash}, timeout=5)
        assert r.status_code == 200, r.text
        found: list[str] = r.json()["data"]["messages"]
        return found

    def expire(self, client_hash: str) -> None:
        r = httpx.post(f"{self.url}/expire-subscription/{client_hash}", timeout=5)
        assert r.status_code == 200, r.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
