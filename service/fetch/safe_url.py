"""Fetch one image from a user-supplied URL, closing the SSRF door.

Every hop: http/https only → host allowlist → resolve with getaddrinfo (which also normalises
decimal/octal/hex/short IPv4 spellings) → refuse any non-public address → connect to exactly
the checked IP (Host header and TLS SNI carry the original name, so DNS cannot be re-bound
between check and connect). Redirects are followed by hand and re-checked; one deadline covers
the whole fetch; the body is streamed under a byte cap.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import anyio
import httpx

from service.core.config import Settings
from service.errors import (
    RemoteContentRejected,
    RemoteImageTooLarge,
    TooManyRedirects,
    UrlFetchFailed,
    UrlFetchTimeout,
    UrlRefused,
)
from service.fetch.address_policy import AddressPolicy, IPAddress

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "skin-cancer-detector/1.0 (+image fetch for /predict-url)"


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str
    redirects: int
    fetch_ms: float


@dataclass(frozen=True)
class PinnedTarget:
    """One hop's destination: the checked IP to connect to, and the name the server expects."""

    url: httpx.URL  # scheme://<checked ip>:port/path?query
    host_header: str
    sni_hostname: str | None


class SafeUrlFetcher:
    def __init__(self, settings: Settings):
        self._policy = AddressPolicy.from_settings(settings)
        self._deadline_s = settings.url_fetch_timeout_s
        self._max_bytes = settings.url_max_bytes
        self._max_redirects = settings.url_max_redirects
        connect = settings.url_connect_timeout_s
        self._timeout = httpx.Timeout(settings.url_fetch_timeout_s, connect=connect, pool=connect)

    async def fetch(self, url: str) -> FetchedImage:
        """The image bytes behind url, or a UrlRefused/UrlFetch*/Remote* error saying why not."""
        started = time.perf_counter()
        try:
            with anyio.fail_after(self._deadline_s):
                data, content_type, redirects = await self._follow(url)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise UrlFetchTimeout(f"the image was not delivered within {self._deadline_s:g} s") from error
        except httpx.HTTPError as error:
            raise UrlFetchFailed(f"the URL could not be fetched ({type(error).__name__})") from error
        return FetchedImage(data, content_type, redirects, round((time.perf_counter() - started) * 1000, 3))

    async def _follow(self, url: str) -> tuple[bytes, str, int]:
        # trust_env=False: an environment proxy would connect on our behalf and defeat the IP pinning.
        client = httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=self._timeout)
        async with client:
            for redirects in range(self._max_redirects + 1):
                target = await self._pin(url)
                async with client.stream(
                    "GET", target.url, headers=self._headers(target), extensions=_sni(target)
                ) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = _redirect_target(url, location)
                        continue
                    return await self._read_image(response), _media_type(response), redirects
        raise TooManyRedirects(f"the URL redirected more than {self._max_redirects} times")

    async def _pin(self, url: str) -> PinnedTarget:
        parts = _parse(url)
        host = _ascii_host(parts.hostname or "")
        self._policy.check_host(host)
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        if _is_ip_literal(host):  # refuse before resolving: a scoped literal (fe80::1%eth0) may not resolve
            self._policy.check_address(host, ipaddress.ip_address(host.split("%")[0]))
        address = await self._resolve_checked(host, port)
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = f"{literal}:{port}"
        try:
            pinned = httpx.URL(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")))
        except httpx.InvalidURL as error:
            raise UrlRefused(f"the URL is malformed: {error}") from error
        shown_host = f"[{host}]" if ":" in host else host
        default_port = parts.port in (None, DEFAULT_PORTS[parts.scheme])
        host_header = shown_host if default_port else f"{shown_host}:{port}"
        sni = host if parts.scheme == "https" and not _is_ip_literal(host) else None
        return PinnedTarget(pinned, host_header, sni)

    async def _resolve_checked(self, host: str, port: int) -> IPAddress:
        """Every address the name resolves to must pass; the first one is the one we connect to."""
        try:
            infos = await anyio.to_thread.run_sync(
                lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), abandon_on_cancel=True
            )
        except (OSError, UnicodeError) as error:
            raise UrlFetchFailed(f"host {host!r} could not be resolved") from error
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
        if not addresses:
            raise UrlFetchFailed(f"host {host!r} has no address")
        for address in addresses:
            try:
                self._policy.check_address(host, address)
            except UrlRefused:
                log.info("refused URL fetch", extra={"host": host, "address": str(address)})
                raise
        return addresses[0]

    @staticmethod
    def _headers(target: PinnedTarget) -> dict[str, str]:
        # identity: a compressed body could inflate far past the byte cap before we count it.
        return {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Accept": "image/*",
            "Accept-Encoding": "identity",
        }

    async def _read_image(self, response: httpx.Response) -> bytes:
        if response.status_code != 200:
            raise UrlFetchFailed(f"the URL answered HTTP {response.status_code}")
        media_type = _media_type(response)
        if not (media_type.startswith("image/") or media_type == "application/octet-stream"):
            raise RemoteContentRejected(f"the URL serves {media_type or 'no content type'!r}, not an image")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise RemoteContentRejected(f"the URL serves {encoding!r}-encoded content; want identity")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise RemoteImageTooLarge(f"the remote image is {declared} bytes; the limit is {self._max_bytes}")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > self._max_bytes:
                raise RemoteImageTooLarge(f"the remote image exceeds the limit of {self._max_bytes} bytes")
        return bytes(body)


def _sni(target: PinnedTarget) -> dict[str, str]:
    return {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}


def _redirect_target(url: str, location: str) -> str:
    """The next hop, checked like the first; a Location that urllib cannot parse (http://x]/, a port of 99999) is
    the remote's fault, not the client's."""
    try:
        joined = urljoin(url, location)
        _split(joined)
    except ValueError as error:
        raise UrlFetchFailed("the URL redirected to a malformed location") from error
    return joined


def _split(url: str) -> SplitResult:
    """urlsplit that also raises ValueError on a malformed port (urlsplit itself defers that to .port)."""
    parts = urlsplit(url.strip())
    parts.port  # noqa: B018 - the check is the attribute access
    return parts


def _parse(url: str) -> SplitResult:
    try:
        parts = _split(url)
    except ValueError as error:
        raise UrlRefused(f"the URL is malformed: {error}") from error
    if parts.scheme not in DEFAULT_PORTS:
        raise UrlRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed; use http or https")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("URLs with embedded credentials are not allowed")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    return parts


def _ascii_host(host: str) -> str:
    host = host.rstrip(".")
    if _is_ip_literal(host):
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UrlRefused(f"host {host!r} is not a valid host name") from error


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()
