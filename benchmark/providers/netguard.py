"""Outbound benchmark requests go to public addresses only, unless the operator allow-listed the host.

The check happens where the connection is made: the host name is resolved once, every address it
resolves to must be public (not loopback, private, link-local -- cloud metadata at 169.254.169.254 --,
shared, reserved or multicast), and the socket is opened to that checked address, so a name that
resolves differently a moment later (DNS rebinding) cannot slip past. TLS still verifies the
certificate against the host name. Hosts in ``settings.BENCHMARK_ENDPOINT_HOSTS`` (a local vLLM,
Ollama) may be anywhere. Proxies from the environment are not used for benchmark requests: through
a proxy the guard would see only the proxy's address.
"""

import asyncio
import ipaddress
import socket

import httpcore
import httpx
from django.conf import settings

from benchmark.credentials import host_matches


class BlockedAddress(Exception):
    """A request to a host whose address is not public and not allow-listed (never retried)."""


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def allow_listed(host: str, port: int | None) -> bool:
    return host_matches(host.lower().rstrip("."), port, settings.BENCHMARK_ENDPOINT_HOSTS)


async def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``: all of them when allow-listed, else only if every one is public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r} ({exc.strerror})") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if allow_listed(host, port):
        return addresses
    blocked = [address for address in addresses if not address_is_public(address)]
    if blocked or not addresses:
        raise BlockedAddress(
            f"{host!r} resolves to a non-public address; benchmark requests go only to public hosts "
            "unless the operator lists the host in BENCHMARK_ENDPOINT_HOSTS"
        )
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to addresses :func:`checked_addresses` allows."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None):
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error: Exception | None = None
        for address in await checked_addresses(host, port):
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"cannot connect to {host!r}")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise BlockedAddress("benchmark requests do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_client(*, limits: httpx.Limits) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose connections pass the address guard (and ignore proxy variables)."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    plain = transport._pool
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=plain._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(),
    )
    return httpx.AsyncClient(transport=transport, trust_env=False)
