"""The outbound guard: where integration endpoints may point, and the client that calls them.

``check_url`` refuses, when an endpoint is saved, what can be refused from the URL alone: a
scheme other than ``https`` (plain ``http`` only where loopback is allowed, i.e. in tests),
credentials in the URL, the hub's own host, and literal addresses that are not public.
``outbound_client`` checks again at connect time: its network backend resolves the host
itself, refuses link-local, private (unless allowed for the facility), loopback (unless
allowed), multicast, reserved and unspecified addresses (IPv4-mapped IPv6 unwrapped), and
connects to the address it checked, so a DNS answer that changes between the check and the
connection (rebinding) cannot reach an inner address. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from hub.errors import BadRequest

TIMEOUT_S = 15.0
"""Success is a 2xx within 15 s (design "Webhooks")."""
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(ip: Address, *, allow_private: bool, allow_loopback: bool) -> str | None:
    """Why ``ip`` may not be called, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return None if allow_private else "a private address"
    return None


def _bad(reason: str) -> BadRequest:
    return BadRequest(f"endpoint URL refused: {reason}", code="bad_endpoint_url")


def check_url(
    url: str, *, allow_private: bool, allow_loopback: bool, own_hosts: Iterable[str] = ()
) -> None:
    """Raise ``BadRequest`` (``bad_endpoint_url``) unless ``url`` may be an endpoint.

    ``own_hosts``: the hub's own host names (from JUNBAN_PUBLIC_URL), refused too.
    """
    if len(url) > 2000:
        raise _bad("longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad("not a URL") from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_loopback):
        raise _bad("the scheme must be https")
    if parts.username is not None or parts.password is not None:
        raise _bad("credentials in the URL (use the endpoint's secret)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _bad("no host")
    if port == 0:
        raise _bad("port 0")
    if host in {h.lower() for h in own_hosts if h}:
        raise _bad("the hub itself")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if (host in LOOPBACK_NAMES or host.endswith(".localhost")) and not allow_loopback:
            raise _bad("a loopback address") from None
        if not all(part and len(part) < 64 for part in host.split(".")):
            raise _bad("not a host name") from None
        return
    reason = refusal(ip, allow_private=allow_private, allow_loopback=allow_loopback)
    if reason:
        raise _bad(reason)


class RefusedAddress(httpx.ConnectError):
    """The host resolved to no address the guard allows (no request was sent)."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's backend, connecting only to checked addresses (by address, not by name)."""

    def __init__(self, *, allow_private: bool, allow_loopback: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow = {"allow_private": allow_private, "allow_loopback": allow_loopback}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:  # no such name, no DNS: a failed attempt like any refused one
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        last = f"{host} resolved to no address"
        for _family, _type, _proto, _name, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            reason = refusal(ip, **self._allow)
            if reason:
                last = f"{host} is {reason}"
                continue
            return await self._inner.connect_tcp(
                str(ip), port, timeout, local_address, socket_options
            )
        raise RefusedAddress(last)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("unix sockets are not endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def outbound_client(
    *,
    allow_private: bool,
    allow_loopback: bool,
    timeout_s: float = TIMEOUT_S,
    cert: tuple[str, str] | None = None,
    max_connections: int | None = 20,
    max_keepalive: int = 20,
) -> httpx.AsyncClient:
    """An HTTP/1.1 pooling client for endpoints: the guard at connect time, ``timeout_s``
    for the whole exchange, no redirects, no proxies from the environment, and an optional
    client certificate (``(cert file, key file)``, WebORCA). ``max_connections=None``: no cap,
    for a client shared by endpoints that each send one request at a time (a cap would let
    stalled endpoints hold every connection and delay the others)."""
    context = ssl.create_default_context()
    if cert is not None:
        context.load_cert_chain(*cert)
    transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(  # the same pool, with the guarded backend
        ssl_context=context,
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        network_backend=GuardedBackend(allow_private=allow_private, allow_loopback=allow_loopback),
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
    )
