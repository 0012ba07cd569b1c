"""Which API key a run may use, and where it may be sent (docs/benchmark.md "Credentials").

Keys never come from a name a user sends. The operator configures named credentials in
``settings.BENCHMARK_CREDENTIALS`` (name -> provider, environment variable, hosts); a run names one,
and the key is read from that variable only when the run's endpoint is one of the credential's
hosts. Custom endpoints (local vLLM, Ollama) must be in ``settings.BENCHMARK_ENDPOINT_HOSTS``.
A researcher may use a credential only when the operator granted it to one of their groups or
studies (:class:`benchmark.models.CredentialGrant`); superusers and management commands (which
run with the operator's environment) may use any.
"""

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CredentialError(ValueError):
    """A run names a credential or endpoint it may not use; the message is shown as is."""


@dataclass(frozen=True)
class Credential:
    name: str
    provider: str
    env: str
    hosts: tuple[str, ...]

    def key(self) -> str | None:
        return os.environ.get(self.env, "").strip() or None

    @property
    def is_set(self) -> bool:
        return self.key() is not None


def configured() -> dict[str, Credential]:
    """The operator's credentials, validated (a bad mapping is a configuration error, not a silent default)."""
    raw = settings.BENCHMARK_CREDENTIALS
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("BENCHMARK_CREDENTIALS must be a JSON object: name -> {provider, env, hosts}.")
    found = {}
    for name, spec in raw.items():
        where = f"BENCHMARK_CREDENTIALS[{name!r}]"
        if not NAME_RE.match(str(name)):
            raise ImproperlyConfigured(f"{where}: a name is letters, digits, '_', '-' or '.', at most 64 characters.")
        if not isinstance(spec, dict) or set(spec) - {"provider", "env", "hosts"}:
            raise ImproperlyConfigured(f"{where} must be an object with exactly 'provider', 'env' and 'hosts'.")
        env, hosts = spec.get("env"), spec.get("hosts")
        if not isinstance(env, str) or not ENV_RE.match(env):
            raise ImproperlyConfigured(f"{where}: 'env' must be an environment variable name, got {env!r}.")
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h.strip() for h in hosts):
            raise ImproperlyConfigured(f"{where}: 'hosts' must be a non-empty list of host names.")
        found[name] = Credential(name=name, provider=str(spec.get("provider", "")), env=env,
                                 hosts=tuple(h.strip().lower() for h in hosts))
    return found


def endpoint_host(url: str) -> tuple[str, int | None]:
    """``(host, port)`` of a URL, lower-cased; ``CredentialError`` when it is not an http(s) URL with a host."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise CredentialError(f"base_url {url!r} has an invalid port.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialError(f"base_url {url!r} must be an http:// or https:// URL with a host.")
    return parts.hostname.lower().rstrip("."), port


def host_matches(host: str, port: int | None, patterns) -> bool:
    """Whether ``host[:port]`` is one of ``patterns``: "host" matches any port, "host:port" only that one
    (IPv6 addresses in brackets, "[::1]:8000")."""
    for pattern in patterns:
        parts = urlsplit("//" + pattern.strip().lower())
        try:
            wanted = parts.port
        except ValueError:
            continue
        if parts.hostname and parts.hostname.rstrip(".") == host and (wanted is None or wanted == port):
            return True
    return False


def is_custom_endpoint_allowed(host: str, port: int | None) -> bool:
    return host_matches(host, port, settings.BENCHMARK_ENDPOINT_HOSTS)


def check_endpoint(*, base_url: str | None, default_base_url: str) -> tuple[str, str, int | None]:
    """``(url, host, port)`` of a run's endpoint; ``CredentialError`` for a custom host the operator did not allow."""
    url = (base_url or default_base_url).rstrip("/")
    host, port = endpoint_host(url)
    if url != default_base_url.rstrip("/") and not is_custom_endpoint_allowed(host, port):
        raise CredentialError(
            f"base_url host {host!r} is not an allowed endpoint; the operator lists custom endpoints "
            "(local vLLM, Ollama ...) in BENCHMARK_ENDPOINT_HOSTS."
        )
    return url, host, port


def usable_by(user) -> dict[str, Credential]:
    """The credentials ``user`` may name: all for superusers and for ``None`` (a management command), else the granted ones."""
    available = configured()
    if user is None or getattr(user, "is_superuser", False):
        return available
    if not getattr(user, "is_authenticated", False):
        return {}
    from django.db.models import Q

    from benchmark.models import CredentialGrant

    granted = set(
        CredentialGrant.objects.filter(Q(group__in=user.groups.all()) | Q(study__researchers=user))
        .values_list("credential", flat=True)
    )
    return {name: cred for name, cred in available.items() if name in granted}


def resolve(*, provider: str, base_url: str | None, default_base_url: str, credential: str | None,
            user=None) -> Credential | None:
    """The credential a run of ``provider`` at ``base_url`` will use (None: send no key), or ``CredentialError``.

    Rules: a custom ``base_url`` must be an operator-allowed endpoint host; a named credential must
    exist, belong to ``provider``, be granted to ``user`` and list the endpoint's host; with no name,
    the provider's own endpoint takes the first usable credential for it and a custom endpoint gets none.
    """
    url, host, port = check_endpoint(base_url=base_url, default_base_url=default_base_url)
    usable = usable_by(user)
    if credential:
        if credential not in configured():
            raise CredentialError(f"no credential {credential!r}; GET /api/v1/credentials/ lists the ones you may use.")
        found = usable.get(credential)
        if found is None:
            raise CredentialError(f"credential {credential!r} has not been granted to you; ask the operator.")
        if found.provider != provider:
            raise CredentialError(f"credential {credential!r} is for provider {found.provider!r}, not {provider!r}.")
        if not host_matches(host, port, found.hosts):
            raise CredentialError(
                f"credential {credential!r} may only be sent to {', '.join(found.hosts)}, not to {host!r}."
            )
        return found
    if url != default_base_url.rstrip("/"):
        return None  # a custom endpoint without a credential of its own gets no key
    for found in usable.values():
        if found.provider == provider and host_matches(host, port, found.hosts):
            return found
    raise CredentialError(
        f"no credential for {provider} at {host!r} has been granted to you; name one with settings.credential "
        "(GET /api/v1/credentials/ lists yours) or ask the operator."
    )
