"""Who a web client is, and how fast it may go: one token bucket per client, shared by every door.

A client is the address of the connection. Only when the operator names trusted proxies
(`TASTEBUD_TRUSTED_PROXIES`) is `X-Forwarded-For` read, and then only its last entry: the hop that proxy
added itself. Anything a client writes into the header sits to the left of that hop and is never read, so
sending a different header on each request does not make a different client. IPv6 clients are keyed by their
/64 network, the block one household or one machine usually holds.
"""

from __future__ import annotations

import ipaddress
import math
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from retrieval.errors import TastebudError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

RATE_UNITS_S = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
RATE_PATTERN = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
MAX_CLIENTS = 100_000  # buckets kept at most; full (idle) buckets are dropped first
IPV6_PREFIX = 64


class RateLimited(TastebudError):
    """A client used up its requests for now; `retry_after_s` says when the next one is allowed."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def parse_rate(text: str) -> tuple[int, float]:
    """(requests, per seconds) from "30/minute", "30 per minute" or "100/5 minutes" (TastebudError otherwise)."""
    match = RATE_PATTERN.match(text or "")
    if not match or int(match.group(1)) < 1 or int(match.group(2) or 1) < 1:
        raise TastebudError(f"TASTEBUD_RATE_LIMIT {text!r} is not like '30/minute' (a count, then second, minute, "
                            "hour or day)")
    count, span, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3).lower()
    return count, span * RATE_UNITS_S[unit]


def client_key(host: str | None) -> str:
    """The bucket key of a connection's address: the address itself, an IPv6 address's /64, or the raw text."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


class ClientLimiter:
    """Token buckets keyed by client: `capacity` requests at once, refilled evenly over `period_s`; thread-safe."""

    def __init__(self, rate: str, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self.capacity, self.period_s = parse_rate(rate)
        self.refill_per_s = self.capacity / self.period_s
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Spend one request of `key`: 0.0 when allowed, else the seconds until the next one is."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - at) * self.refill_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:
                    self._forget_idle(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.refill_per_s

    def admit(self, key: str) -> None:
        """Spend one request of `key`, or raise RateLimited saying when to come back."""
        wait_s = self.take(key)
        if wait_s > 0:
            raise RateLimited(f"too many requests from your address (limit: {self.rate}, shared by the chat, the "
                              f"stream, the page and the widget); wait {math.ceil(wait_s)} s and try again",
                              retry_after_s=wait_s)

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that are full again (their clients went quiet); the oldest go if none are."""
        full = [k for k, (tokens, at) in self._buckets.items()
                if tokens + (now - at) * self.refill_per_s >= self.capacity]
        for key in full or sorted(self._buckets, key=lambda k: self._buckets[k][1])[: len(self._buckets) // 10]:
            del self._buckets[key]


def parse_proxies(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated proxy addresses or networks ("10.0.0.5, 172.16.0.0/12"); TastebudError names a bad one."""
    networks = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise TastebudError(f"TASTEBUD_TRUSTED_PROXIES: {part!r} is not an IP address or network") from exc
    return tuple(networks)


def _is_in(host: str | None, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    """True when `host` is an address inside one of `networks`."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in net for net in networks)


def forwarded_hop(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The last comma-separated entry of a (possibly repeated) header: the value the nearest proxy wrote."""
    values = [v.decode("latin-1") for k, v in headers if k == name]
    entries = [e.strip() for e in ",".join(values).split(",") if e.strip()]
    return entries[-1] if entries else None


class TrustedProxies:
    """ASGI middleware: behind a trusted proxy, the client address and scheme are the ones that proxy reported."""

    def __init__(self, app: ASGIApp, proxies: str) -> None:
        self.app = app
        self.networks = parse_proxies(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite scope["client"] (and "scheme") from the trusted proxy's own hop; pass everything else as is."""
        if scope["type"] in ("http", "websocket") and self.networks:
            peer = (scope.get("client") or (None, 0))[0]
            if _is_in(peer, self.networks):
                headers = scope.get("headers") or []
                hop = forwarded_hop(headers, b"x-forwarded-for")
                if hop is not None:
                    try:
                        scope = {**scope, "client": (str(ipaddress.ip_address(hop.strip("[]"))), 0)}
                    except ValueError:
                        pass  # not an address: the proxy itself stays the client
                proto = forwarded_hop(headers, b"x-forwarded-proto")
                if proto in ("http", "https") and scope["type"] == "http":
                    scope = {**scope, "scheme": proto}
        await self.app(scope, receive, send)
