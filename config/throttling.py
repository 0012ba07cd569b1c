"""The API's throttle, keyed by the same client address as the entry-link and login limits."""

from rest_framework.throttling import AnonRateThrottle

from config.middleware import client_ip


class ClientAddressAnonThrottle(AnonRateThrottle):
    """DRF's anonymous-user throttle (rate ``anon``), counted per ``config.middleware.client_ip``.

    DRF's own ``get_ident`` without ``NUM_PROXIES`` keys on the whole X-Forwarded-For header, so a
    client behind our proxy got a fresh allowance by prepending any address of its choice. Here the
    address is the one ``TRUSTED_PROXY_HOPS`` hops from the right (the proxy's own entry), as for every
    other limit; what a client writes to the left of it changes nothing.
    """

    def get_ident(self, request):
        return client_ip(request)
