"""Where a webhook may go: an endpoint URL checked, and its host resolved to the addresses flexbill will connect to.

Checked when the endpoint is registered and again before every delivery attempt, because what a name resolves to
can change in between. The delivery then connects to exactly the addresses checked here (transport.py).
"""

import contextlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

from . import addresses
from .addresses import IPAddress

MAX_URL_LENGTH = 500
DEFAULT_PORTS = {"https": 443, "http": 80}


class UrlRefused(Exception):
    """The URL cannot be an endpoint. `detail` is a sentence for whoever typed it; `reason` is the delivery log's."""

    reason = "URL not allowed"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class AddressRefused(UrlRefused):
    reason = "Address not allowed"


class HostNotFound(UrlRefused):
    reason = "Host not found"


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str  # lower-case ASCII (IDNA applied), no trailing dot, IPv6 without brackets
    port: int
    target: str  # path and query, as sent in the request line
    address: IPAddress | None  # when the host is an address literal, in whatever spelling

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class Destination:
    url: ParsedUrl
    addresses: tuple[IPAddress, ...]  # every one checked; the only addresses a delivery may connect to


def parse(url: str, *, allow_http: bool) -> ParsedUrl:
    if not isinstance(url, str) or not url:
        raise UrlRefused("url is required.")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"url must be at most {MAX_URL_LENGTH} characters.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c == "\\" for c in url):
        raise UrlRefused("url must not contain spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UrlRefused("url is not a valid web address.") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise UrlRefused(
            "url must start with https:// (http:// only to this machine's loopback address in development)."
            if allow_http
            else "url must start with https://."
        )
    netloc = parts.netloc
    if "@" in netloc:
        raise UrlRefused("url must not contain a user name or password.")
    raw_host, port = _split_host_port(netloc, scheme)
    host, address = _host(raw_host, bracketed=netloc.startswith("["))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # A request line is ASCII: send non-ASCII path or query characters percent-encoded, as a browser would.
    target = "".join(c if c.isascii() else quote(c) for c in target)
    return ParsedUrl(scheme=scheme, host=host, port=port, target=target, address=address)


def _split_host_port(netloc: str, scheme: str) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UrlRefused("url's host is not valid.")
        raw_host, rest = netloc[1:end], netloc[end + 1 :]
    else:
        raw_host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
    if not raw_host:
        raise UrlRefused("url must name a host.")
    if not rest:
        return raw_host, DEFAULT_PORTS[scheme]
    port_text = rest[1:] if rest.startswith(":") else ""
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 1 <= int(port_text) <= 65535):
        raise UrlRefused("url's port must be a number from 1 to 65535.")
    return raw_host, int(port_text)


def _host(raw_host: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    if bracketed:
        host = raw_host.lower()
        if ":" not in host:
            raise UrlRefused("url's host is not a valid IPv6 address.")
    else:
        host = raw_host[:-1] if raw_host.endswith(".") else raw_host
        try:
            # UTS #46 maps what a browser would: upper case, full-width digits and dots, Unicode names to xn--.
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise UrlRefused("url's host name is not valid.") from None
    try:
        return host, addresses.literal_address(host)
    except addresses.NotAnAddress:
        raise UrlRefused("url's host is not a valid IP address.") from None


def resolve(url: ParsedUrl) -> Destination:
    """The addresses to connect to, every one of them allowed; else AddressRefused (any one refused is enough)."""
    if url.address is not None:
        found = [url.address]
    elif url.host == "localhost" or url.host.endswith(".localhost"):
        found = [ipaddress.IPv4Address("127.0.0.1")]  # always loopback, whatever DNS says (RFC 6761)
    else:
        try:
            found = addresses.lookup(url.host)
        except (OSError, UnicodeError, ValueError):
            found = []
        if not found:
            raise HostNotFound("url's host name does not resolve.")
    if url.scheme == "http":
        if not all(addresses.is_loopback(a) for a in found):
            raise AddressRefused("http:// is allowed only to this machine's loopback address (development).")
    elif any(addresses.refusal(a) for a in found):
        raise AddressRefused(
            "url leads to an internal address (loopback, private, link-local, cloud metadata or reserved); "
            "webhooks are sent only to public internet addresses."
        )
    return Destination(url=url, addresses=tuple(found))


def destination_for(url: str, *, allow_http: bool) -> Destination:
    return resolve(parse(url, allow_http=allow_http))


def check_new_endpoint_url(url: str, *, allow_http: bool) -> None:
    """Registration: refuse a bad URL or one that leads inside. A name that does not resolve yet is accepted —
    every delivery checks again, and records "Host not found" until it does."""
    with contextlib.suppress(HostNotFound):
        destination_for(url, allow_http=allow_http)
