"""The callback address policy: public targets only, unless CALLBACK_ALLOW_PRIVATE opens private ones."""

from __future__ import annotations

import ipaddress

import pytest

from omnibot.domain.callback_targets import CallbackRefused, check_addresses, check_url, host_address, refusal
from omnibot.settings import ConfigurationError, Settings

# Every spelling must be refused from the URL alone: nothing is resolved or connected to.
NON_PUBLIC_URLS = [
    "http://127.0.0.1:5201/sandbox/stats/reset", "http://localhost/hook", "http://LocalHost./hook",
    "http://api.localhost/hook", "http://[::1]/hook", "http://0x7f000001/hook", "http://2130706433/hook",
    "http://127.1/hook", "http://0177.0.0.1/hook", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook", "http://172.16.5.4/hook", "http://192.168.1.10/hook", "http://100.64.0.1/hook",
    "http://[fc00::1]/hook", "http://[fd12:3456::1]/hook", "http://[fe80::1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/hook", "http://[64:ff9b::a00:1]/hook", "http://[2002:7f00:1::1]/hook",
    "http://0.0.0.0/hook", "http://[::]/hook", "http://224.0.0.1/hook", "http://[ff02::1]/hook",
    "http://240.0.0.1/hook", "http://255.255.255.255/hook",
]
MALFORMED_URLS = ["https://user:pass@shop.example.com/hook", "https://token@shop.example.com/hook",
                  "ftp://shop.example.com/hook", "file:///etc/passwd", "gopher://shop.example.com/", "http:///hook"]


@pytest.mark.parametrize("url", NON_PUBLIC_URLS + MALFORMED_URLS)
def test_non_public_and_malformed_callback_urls_are_refused(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://shop.example.com/hook", "http://shop.example.com:8080/hook",
                                 "https://93.184.216.34/hook", "https://[2606:4700::1111]/hook",
                                 "https://[::ffff:93.184.216.34]/hook", "https://[64:ff9b::5db8:d822]/hook"])
def test_public_callback_urls_pass(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/callback", "http://localhost/hook", "http://10.0.0.1/hook",
                                 "http://[::1]/hook", "http://[fd12::1]/hook", "http://0x7f000001/hook"])
def test_allow_private_opens_loopback_and_private_targets(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
                                 "http://224.0.0.1/hook", "http://0.0.0.0/hook", "http://240.0.0.1/hook",
                                 "http://[::ffff:169.254.169.254]/hook", "https://user:pass@10.0.0.1/hook"])
def test_allow_private_still_refuses_metadata_multicast_unspecified_reserved_and_credentials(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_url(url, allow_private=True)


@pytest.mark.parametrize(("spelling", "address"), [("0x7f000001", "127.0.0.1"), ("2130706433", "127.0.0.1"),
                                                   ("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
                                                   ("[::1]", "::1"), ("shop.example.com", None),
                                                   ("1.2.3.4 x", None), ("deadbeef", None)])
def test_host_address_reads_every_numeric_spelling_a_resolver_takes(spelling: str, address: str | None) -> None:
    assert host_address(spelling) == (None if address is None else ipaddress.ip_address(address))


def test_a_host_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    assert check_addresses("shop.test", ["93.184.216.34", "2606:4700::1111"], False) == [
        ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("2606:4700::1111")]
    with pytest.raises(CallbackRefused, match="shop.test resolves to 10.0.0.1, a private address"):
        check_addresses("shop.test", ["93.184.216.34", "10.0.0.1"], False)


def test_the_reason_names_the_address_and_the_setting_that_opens_it() -> None:
    assert refusal(ipaddress.ip_address("8.8.8.8"), False) is None
    assert refusal(ipaddress.ip_address("::1"), False) == "a loopback address"
    assert refusal(ipaddress.ip_address("169.254.169.254"), True) == "a link-local address"
    with pytest.raises(CallbackRefused, match="CALLBACK_ALLOW_PRIVATE=true") as refused:
        check_url("http://127.0.0.1:5201/x", False)
    assert "127.0.0.1" in refused.value.reason


def test_credentials_never_appear_in_the_refusal() -> None:
    with pytest.raises(CallbackRefused) as refused:
        check_url("https://shopuser:hunter2@shop.example.com/hook?token=abc", False)
    assert "hunter2" not in refused.value.reason and "shopuser" not in refused.value.reason


@pytest.mark.parametrize("url", ["http://127.0.0.1:5201/hook", "http://169.254.169.254/", "https://u:p@shop.example/"])
def test_status_webhook_url_setting_refuses_non_public_targets(url: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        Settings.from_env(status_webhook_url=url)
    assert error.value.problems[0].startswith("STATUS_WEBHOOK_URL: ")
    assert "u:p" not in str(error.value)


def test_status_webhook_url_on_loopback_needs_callback_allow_private() -> None:
    settings = Settings.from_env(status_webhook_url="http://127.0.0.1:5201/hook", callback_allow_private=True)
    assert str(settings.status_webhook_url) == "http://127.0.0.1:5201/hook"
    assert Settings.from_env().callback_allow_private is False
