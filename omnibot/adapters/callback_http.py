"""POSTing status callbacks to the shop over httpx, to addresses the callback policy allows.

The host is resolved once, here, and every address it resolved to must pass
``domain.callback_targets``; the POST then goes to one of those vetted addresses, with the
original ``Host`` header and TLS server name (so the certificate is still checked against the
shop's name). httpx never resolves the name itself: a DNS answer that changes between the check
and the connection (DNS rebinding) cannot steer the POST to another address.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

import httpx

from omnibot.adapters.http_errors import server_failure, transport_failure
from omnibot.adapters.http_pool import HttpClient
from omnibot.domain.callback_targets import CallbackRefused, IPAddress, check_addresses, check_target
from omnibot.domain.errors import PermanentFailure, TransientFailure

# (host, port) -> the host's addresses, most preferred first.
Resolver = Callable[[str, int], Sequence[str]]
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Addresses tried when connecting fails: a dual-stack host without an IPv6 route still gets its
# callback over IPv4; a few at most, so one dead shop cannot hold the callbacks thread for long.
_ADDRESSES_TRIED = 3


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer for ``host``, in its order of preference, each address once."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class HttpCallbackTransport:
    def __init__(self, client: HttpClient, *, allow_private: bool = False,
                 resolver: Resolver = system_resolver) -> None:
        self._client = client
        self._allow_private = allow_private
        self._resolve = resolver

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST to a vetted address of ``url``'s host; ``CallbackRefused`` when it has none."""
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise CallbackRefused("a callback URL must be a valid URL") from None
        host = target.raw_host.decode("ascii")
        literal = check_target(target.scheme, host, bool(target.userinfo), self._allow_private)
        addresses = [literal] if literal is not None else self._resolved(host, target)
        # Host carries the port when it is not the scheme's default, as httpx would write it.
        sent_headers = {**headers, "Host": target.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if target.scheme == "https" and literal is None else {}
        response = self._post_first_reachable(target, addresses, body, sent_headers, extensions)
        if response.status_code >= 500 or response.status_code == 429:
            raise server_failure("callback", response)
        if not response.is_success:
            # Retried all the same: the shop may fix its endpoint; the outbox gives up in the end.
            raise PermanentFailure(f"callback: HTTP {response.status_code} from the shop")

    def _post_first_reachable(self, target: httpx.URL, addresses: list[IPAddress], body: bytes,
                              headers: dict[str, str], extensions: dict[str, str]) -> httpx.Response:
        tried = addresses[:_ADDRESSES_TRIED]
        for index, address in enumerate(tried):
            # The scope of an IPv6 address cannot go into a URL; only link-local ones need it, and
            # those are refused.
            at = target.copy_with(host=str(type(address)(int(address))))
            try:
                return self._client.post(str(at), content=body, headers=headers, extensions=extensions)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the shop, so trying the next address cannot make a second POST.
                if index == len(tried) - 1:
                    raise transport_failure("callback", exc) from None
            except httpx.HTTPError as exc:
                raise transport_failure("callback", exc) from None
        raise AssertionError("unreachable: addresses is never empty")

    def _resolved(self, host: str, target: httpx.URL) -> list[IPAddress]:
        try:
            answers = self._resolve(host, target.port or _DEFAULT_PORTS[target.scheme])
        except UnicodeError:
            raise CallbackRefused(f"the callback host {host} is not a valid host name") from None
        except OSError as exc:  # socket.gaierror: the shop's DNS may answer again later
            raise TransientFailure(f"callback: could not resolve {host} ({type(exc).__name__})") from None
        if not answers:
            raise TransientFailure(f"callback: {host} resolved to no address")
        return check_addresses(host, answers, self._allow_private)
