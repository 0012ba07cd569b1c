"""Outbound benchmark requests go to public addresses only, unless the operator allow-listed the host.

The check happens where the connection is made: the host name is resolved once, every address it
resolves to must be public (not loopback, private, link-local -- cloud metadata at 169.254.169.254 --,
shared, reserved or multicast), and the socket is opened to that checked address, so a name that
resolves differently a moment later (DNS rebinding) cannot slip past. An address written in the URL
(``http://10.0.0.5/v1``) is checked the same way. TLS still verifies the certificate against the host
name. Hosts in ``settings.BENCHMARK_ENDPOINT_HOSTS`` (a local vLLM, Ollama) may be anywhere. Proxies
from the environment are not used for benchmark requests (through a proxy the guard would see only
the proxy's address), and redirects are not followed (:func:`benchmark.providers.http.post_json`
treats a 3xx as an error), so the only host ever contacted is the one checked here.
"""

import ipaddress

import aiohttp
from aiohttp.abc import ResolveResult
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


def check_addresses(host: str, port: int, addresses: list[str]) -> None:
    """Raise :class:`BlockedAddress` unless ``host`` is allow-listed or every one of its ``addresses`` is public."""
    if allow_listed(host, port):
        return
    if not addresses or not all(address_is_public(address) for address in addresses):
        raise BlockedAddress(
            f"{host!r} resolves to a non-public address; benchmark requests go only to public hosts "
            "unless the operator lists the host in BENCHMARK_ENDPOINT_HOSTS"
        )


class GuardedConnector(aiohttp.TCPConnector):
    """aiohttp's TCP connector, connecting only to addresses :func:`check_addresses` allows.

    ``_resolve_host`` is the one method every new connection goes through, for a host name (resolved,
    or from aiohttp's DNS cache) and for an address literal alike; aiohttp then connects to exactly the
    addresses it returns. It is aiohttp-internal, so the version is pinned in requirements.txt and
    ``tests/hardening/test_secrets.py`` fails if a new version stops calling it.
    """

    async def _resolve_host(self, host: str, port: int, traces=None) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        check_addresses(host, port, [result["host"] for result in results])
        return results


def guarded_session(*, limit: int, timeout: float | None = None) -> aiohttp.ClientSession:
    """One connection pool of up to ``limit`` connections whose connections pass the address guard.

    Environment proxies are ignored (``trust_env=False``), cookies are not kept (an API sets none
    we want), and ``timeout`` (seconds) bounds each request as a whole.
    """
    return aiohttp.ClientSession(
        connector=GuardedConnector(limit=limit, limit_per_host=0),
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
    )
