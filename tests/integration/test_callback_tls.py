"""An https callback sent to a vetted address still speaks TLS to the shop's name, on loopback.

The shop is a TLS server on 127.0.0.1 with a certificate for ``shop.test`` from a test CA; the
resolver maps ``shop.test`` to it (CALLBACK_ALLOW_PRIVATE, since it is loopback). The connection
goes to the address, the server name and the certificate check go by the name.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omnibot.adapters.callback_http import HttpCallbackTransport
from omnibot.domain.errors import TransientFailure

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tls")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=omnibot test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "shop.key", "-out", "shop.csr", "-subj", "/CN=shop.test")
    (where / "san.ext").write_text("subjectAltName=DNS:shop.test\n")
    openssl("x509", "-req", "-in", "shop.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "shop.pem", "-days", "2", "-extfile", "san.ext")
    return where


class Shop(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str | None, str | None]] = []  # (Host header, TLS server name)
    server_name: str | None = None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Shop.received.append((self.headers["Host"], Shop.server_name))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop_port(certificates: Path) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "shop.pem", certificates / "shop.key")

    def remember(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        Shop.server_name = name

    context.sni_callback = remember  # type: ignore[assignment]
    server = http.server.HTTPServer(("127.0.0.1", 0), Shop)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    Shop.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(certificates: Path) -> Iterator[httpx.Client]:
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    with httpx.Client(verify=trusted, trust_env=False, timeout=5) as client:
        yield client


def test_https_goes_to_the_vetted_address_with_the_shops_name_and_certificate(client: httpx.Client,
                                                                               shop_port: int) -> None:
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    HttpCallbackTransport(client, allow_private=True, resolver=resolver).post(
        f"https://shop.test:{shop_port}/omnibot/status", b"{}", {"Content-Type": "application/json"})
    assert Shop.received == [(f"shop.test:{shop_port}", "shop.test")]
    assert looked_up == ["shop.test"]


def test_a_certificate_for_another_name_is_refused(client: httpx.Client, shop_port: int) -> None:
    transport = HttpCallbackTransport(client, allow_private=True, resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(TransientFailure, match="connection failed"):
        transport.post(f"https://other.test:{shop_port}/hook", b"{}", {})
    assert Shop.received == []
