"""The worker's callback POST: resolved once, every address vetted, the vetted one connected to.

The network is httpx.MockTransport, which records the address each request was sent to; the
resolver is a table of test host names. Nothing here leaves the process.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from omnibot.adapters.callback_http import HttpCallbackTransport
from omnibot.domain.callback_targets import CallbackRefused
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.services.callbacks import StatusCallbacks
from tests.fakes import ManualClock
from tests.unit.test_callbacks import MemoryOutbox, sent_notification

HEADERS = {"Content-Type": "application/json"}


@dataclass
class FakeDns:
    """Answers each lookup of a host with the next of its answers (the last one again when they run out)."""

    answers: dict[str, list[list[str]]]
    lookups: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@dataclass
class FakeNetwork:
    """Where requests were sent: the URL's host is the address connected to."""

    requests: list[httpx.Request] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    status: int = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        return httpx.Response(self.status)

    @property
    def connected_to(self) -> list[str]:
        return [request.url.host for request in self.requests]


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


@pytest.fixture
def client(network: FakeNetwork) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(network.handle)) as client:
        yield client


def transport(client: httpx.Client, dns: FakeDns, allow_private: bool = False) -> HttpCallbackTransport:
    return HttpCallbackTransport(client, allow_private=allow_private, resolver=dns)


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "::1", "127.0.0.1", "fd00::1",
                                     "::ffff:10.0.0.1", "0.0.0.0"])
def test_a_host_resolving_to_a_non_public_address_is_refused_without_connecting(
        address: str, client: httpx.Client, network: FakeNetwork) -> None:
    dns = FakeDns({"shop.test": [[address]]})
    with pytest.raises(CallbackRefused, match=f"shop.test resolves to {ipaddress.ip_address(address)},"):
        transport(client, dns).post("https://shop.test/hook", b"{}", HEADERS)
    assert network.requests == []


def test_a_public_host_is_connected_to_at_its_vetted_address_with_its_own_host_header_and_tls_name(
        client: httpx.Client, network: FakeNetwork) -> None:
    dns = FakeDns({"shop.test": [["93.184.216.34"]]})
    transport(client, dns).post("https://shop.test:8443/omnibot/status?shop=7", b'{"a":1}', HEADERS)
    [request] = network.requests
    assert str(request.url) == "https://93.184.216.34:8443/omnibot/status?shop=7"
    assert request.headers["Host"] == "shop.test:8443"
    assert request.extensions["sni_hostname"] == "shop.test"  # the certificate is checked against the name
    assert request.content == b'{"a":1}' and request.headers["Content-Type"] == "application/json"
    assert dns.lookups == [("shop.test", 8443)]


def test_an_ipv6_address_is_connected_to_in_brackets(client: httpx.Client, network: FakeNetwork) -> None:
    transport(client, FakeDns({"shop.test": [["2606:4700::1111"]]})).post("http://shop.test/hook", b"{}", HEADERS)
    [request] = network.requests
    assert request.url.host == "2606:4700::1111" and request.headers["Host"] == "shop.test"
    assert "sni_hostname" not in request.extensions


def test_dns_rebinding_cannot_make_it_connect_to_a_private_address(client: httpx.Client, network: FakeNetwork) -> None:
    dns = FakeDns({"shop.test": [["93.184.216.34"], ["10.0.0.1"]]})
    callbacks = transport(client, dns)
    callbacks.post("http://shop.test/hook", b"{}", HEADERS)
    with pytest.raises(CallbackRefused):
        callbacks.post("http://shop.test/hook", b"{}", HEADERS)
    # One lookup per POST, each checked, and the connection made to the checked answer: httpx never
    # resolves the name a second time, so the private answer is never connected to.
    assert network.connected_to == ["93.184.216.34"]
    assert len(dns.lookups) == 2


def test_a_host_with_a_private_address_among_public_ones_is_refused(client: httpx.Client,
                                                                    network: FakeNetwork) -> None:
    dns = FakeDns({"shop.test": [["93.184.216.34", "169.254.169.254"]]})
    with pytest.raises(CallbackRefused):
        transport(client, dns).post("http://shop.test/hook", b"{}", HEADERS)
    assert network.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:5201/sandbox/stats/reset", "http://0x7f000001/",
                                 "http://localhost/hook", "http://[::1]/", "https://user:pass@shop.test/hook",
                                 "ftp://shop.test/hook"])
def test_a_refused_url_is_neither_resolved_nor_connected_to(url: str, client: httpx.Client,
                                                          network: FakeNetwork) -> None:
    dns = FakeDns({"shop.test": [["93.184.216.34"]]})
    with pytest.raises(CallbackRefused):
        transport(client, dns).post(url, b"{}", HEADERS)
    assert dns.lookups == [] and network.requests == []


def test_allow_private_reaches_a_backend_on_the_private_network(client: httpx.Client, network: FakeNetwork) -> None:
    dns = FakeDns({"backend.internal": [["10.0.0.1"]]})
    transport(client, dns, allow_private=True).post("http://backend.internal:8000/hook", b"{}", HEADERS)
    transport(client, dns, allow_private=True).post("http://0x7f000001:9/hook", b"{}", HEADERS)
    assert network.connected_to == ["10.0.0.1", "127.0.0.1"]
    with pytest.raises(CallbackRefused):  # the metadata service stays closed
        transport(client, FakeDns({"shop.test": [["169.254.169.254"]]}), allow_private=True).post(
            "http://shop.test/", b"{}", HEADERS)


def test_an_unreachable_address_falls_back_to_the_next_vetted_one(client: httpx.Client,
                                                                  network: FakeNetwork) -> None:
    network.unreachable = {"2606:4700::1111"}
    transport(client, FakeDns({"shop.test": [["2606:4700::1111", "93.184.216.34"]]})).post(
        "http://shop.test/hook", b"{}", HEADERS)
    assert network.connected_to == ["93.184.216.34"]


def test_dns_failure_is_transient_and_a_4xx_is_a_failure(client: httpx.Client, network: FakeNetwork) -> None:
    def no_answer(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(TransientFailure, match="could not resolve shop.test"):
        HttpCallbackTransport(client, resolver=no_answer).post("http://shop.test/hook", b"{}", HEADERS)
    network.status = 404
    with pytest.raises(PermanentFailure, match="HTTP 404"):
        transport(client, FakeDns({"shop.test": [["93.184.216.34"]]})).post("http://shop.test/hook", b"{}", HEADERS)


def test_a_refused_callback_is_given_up_at_once_with_its_reason_logged(
        client: httpx.Client, network: FakeNetwork, caplog: pytest.LogCaptureFixture) -> None:
    outbox = MemoryOutbox()
    callbacks = StatusCallbacks(outbox, transport(client, FakeDns({"shop.test": [["10.0.0.1"]]})), "k", ManualClock())
    callbacks.status_changed(sent_notification("http://shop.test/hook"))
    with caplog.at_level(logging.WARNING, logger="omnibot.services.callbacks"):
        assert callbacks.send_due() == 0
    [job] = outbox.jobs.values()
    assert job.attempts == 1 and outbox.due[job.id] is None  # given up, not retried 12 times
    assert "10.0.0.1, a private address" in outbox.errors[job.id]
    assert "callback.refused" in caplog.text and "10.0.0.1" in caplog.text
    assert network.requests == []
