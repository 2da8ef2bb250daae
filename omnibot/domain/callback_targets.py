"""Where status callbacks may go: the one address policy of the API, the settings and the worker.

A callback is a POST whose target the shop's request names, so a ``callback_url`` aimed inside
omnibot's own network (loopback, a private range, the cloud's metadata service at
169.254.169.254) would let anyone with an API key reach what only omnibot can reach (SSRF).
Callbacks go to public addresses only; ``CALLBACK_ALLOW_PRIVATE`` opens loopback and private
ranges to a shop whose backend shares omnibot's network. Link-local, multicast, unspecified and
reserved addresses stay closed either way: no shop backend lives there.

Pure decisions: the API and the settings judge a URL alone (an address literal or ``localhost``);
the worker judges every address it resolved a host name to, then connects to one of those.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from omnibot.domain.errors import PermanentFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = frozenset({"https", "http"})
ALLOW_PRIVATE_SETTING = "CALLBACK_ALLOW_PRIVATE"
# DNS64 answers an IPv6-only host with the IPv4 address inside this prefix: judge that one.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# The spellings inet_aton (and so a resolver) reads as IPv4: 127.1, 0x7f000001, 2130706433, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)


class CallbackRefused(PermanentFailure):
    """A callback target omnibot will not POST to. Trying again cannot help: the callback is given up.

    The message names the host and the address, never the whole URL (its query or user
    information may hold a secret).
    """


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why ``address`` may not receive a callback (``"a private address"``), or None when it may."""
    for judged in _judged(address):
        if judged.is_multicast:  # before is_global, which counts global multicast scopes in
            return "a multicast address"
        if judged.is_unspecified:
            return "an unspecified address"
        if judged.is_link_local:
            return "a link-local address"
        if judged.is_loopback:
            if not allow_private:
                return "a loopback address"
            continue
        if judged.is_reserved:
            return "a reserved address"
        if not judged.is_global and not allow_private:
            return "a private address"
    return None


def check_addresses(host: str, addresses: Iterable[str | IPAddress], allow_private: bool) -> list[IPAddress]:
    """Every address ``host`` stands for, each allowed, else ``CallbackRefused``.

    All of them must pass, not just one: which one a connection would take is not ours to choose.
    """
    checked = []
    for raw in addresses:
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            raise CallbackRefused(f"the callback host {host} resolved to something not an IP address") from None
        reason = refusal(address, allow_private)
        if reason is not None:
            raise CallbackRefused(_refused_message(host, address, reason, allow_private))
        checked.append(address)
    return checked


def check_target(scheme: str, host: str, has_credentials: bool, allow_private: bool) -> IPAddress | None:
    """Judge what a URL's parts alone tell; raise ``CallbackRefused``, else return the host's
    address when the host is one (in any spelling), None when it is a name left to resolve."""
    if scheme.lower() not in SCHEMES:
        raise CallbackRefused("a callback URL must be an https or http URL")
    if has_credentials:
        raise CallbackRefused("a callback URL must not hold a user name or password")
    if not host:
        raise CallbackRefused("a callback URL must name a host")
    address = host_address(host)
    if address is not None:
        check_addresses(host, [address], allow_private)
    elif is_localhost(host) and not allow_private:
        raise CallbackRefused(f"the callback host {host} is this machine (loopback); {_PRIVATE_HINT}")
    return address


def check_url(url: str, allow_private: bool) -> IPAddress | None:
    """``check_target`` on ``url``: what the API and the settings can decide without resolving a name."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise CallbackRefused("a callback URL must be a valid URL") from None
    return check_target(parts.scheme, host, parts.username is not None or parts.password is not None, allow_private)


def host_address(host: str) -> IPAddress | None:
    """``host`` (without brackets) as an IP address when it is one, in any spelling a resolver takes."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            # Pure parsing by the C library, no lookup: the numeric forms ipaddress does not read.
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def is_localhost(host: str) -> bool:
    """``localhost`` and its subdomains, which resolvers answer with loopback (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


_PRIVATE_HINT = f"callbacks go to public addresses only ({ALLOW_PRIVATE_SETTING}=true opens private networks)"


def _judged(address: IPAddress) -> list[IPAddress]:
    # An IPv6 address that carries an IPv4 one reaches that IPv4 address: judge it too.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        if address in _NAT64:
            return [ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)]
        if address.sixtofour is not None:
            return [address, address.sixtofour]
    return [address]


def _refused_message(host: str, address: IPAddress, reason: str, allow_private: bool) -> str:
    subject = f"the callback host {host} is" if host.strip("[]") == str(address) else \
        f"the callback host {host} resolves to {address},"
    opens = not allow_private and reason in ("a loopback address", "a private address")
    return f"{subject} {reason}; " + (_PRIVATE_HINT if opens else "callbacks never go there")
