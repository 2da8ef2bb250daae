"""The sandbox's phones page without a browser: what it renders, what /phones/live answers, the customer's journal."""

from __future__ import annotations

from typing import Any

import pytest

from omnibot_sandbox import SandboxConfig, create_app
from omnibot_sandbox.state import ReceivedMessage
from omnibot_sandbox.ui_chat import linkify, render, telegram_keyboard, viber_keyboard
from omnibot_sandbox.ui_journal import Sent
from tests.sandbox_helpers import SandboxClient

CONFIG = SandboxConfig()


@pytest.fixture
def sandbox() -> SandboxClient:
    client = SandboxClient(create_app().test_client())
    client.http.post("/sandbox/customers", json={"name": "Olena Kovalenko", "phone": "+380501234567"})
    return client


def live(sandbox: SandboxClient, version: str = "") -> dict[str, Any]:
    response = sandbox.http.get("/phones/live", query_string={"v": version})
    assert response.status_code == 200
    data: dict[str, Any] = response.get_json()
    return data


def test_the_root_leads_to_a_page_with_a_phone_per_customer_and_local_assets_only(sandbox: SandboxClient) -> None:
    assert sandbox.http.get("/").headers["Location"].endswith("/phones")
    page = sandbox.http.get("/phones").get_data(as_text=True)
    assert 'id="phone-c1"' in page and "+380501234567" in page
    assert 'src="/phones/static/sandbox_phones/phones.js"' in page
    assert "http://" not in page and "https://cdn" not in page
    assert sandbox.http.get("/phones/static/sandbox_phones/phones.css").status_code == 200


def test_live_answers_only_a_version_until_something_changes(sandbox: SandboxClient) -> None:
    first = live(sandbox)
    assert first["customers"] == ["c1"] and first["chats"]["c1"]["telegram"]["mode"] == "start"
    assert live(sandbox, first["version"]) == {"version": first["version"]}

    sandbox.http.post("/sandbox/customers/c1/telegram/start", json={"payload": "ORD-1"})
    changed = live(sandbox, first["version"])
    assert changed["version"] != first["version"]
    assert changed["chats"]["c1"]["telegram"]["mode"] == "chat"
    assert "/start ORD-1" in changed["chats"]["c1"]["telegram"]["html"]


def test_the_journal_shows_what_the_customer_did_and_forgets_it_with_them(sandbox: SandboxClient) -> None:
    sandbox.http.post("/sandbox/customers/c1/open-link", json={"url": "viber://pa?chatURI=omnibotsandbox&context=X1"})
    sandbox.http.post("/sandbox/customers/c1/viber/text", json={"text": "<b>hi</b>"})
    sandbox.http.post("/sandbox/customers/c1/telegram/text", json={"text": "refused: not started"})  # a 409
    html = live(sandbox)["chats"]["c1"]["viber"]["html"]
    assert "Opened the chat from a link (X1)" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html  # escaped, as the customer typed it
    assert "refused" not in live(sandbox)["chats"]["c1"]["telegram"]["html"]

    sandbox.http.delete("/sandbox/customers/c1")
    sandbox.http.post("/sandbox/customers", json={"name": "Next", "phone": "+380501234568"})
    sandbox.http.post("/sandbox/reset")
    sandbox.http.post("/sandbox/customers", json={"name": "Again c1", "phone": "+380501234569"})
    assert "hi" not in live(sandbox)["chats"]["c1"]["viber"]["html"]


def test_a_pasted_link_is_read_for_the_page_or_refused_with_a_reason(sandbox: SandboxClient) -> None:
    read = sandbox.http.post("/phones/parse-link", json={"url": "https://t.me/omnibot_sandbox_bot?start=ORD-9"})
    assert read.get_json() == {"channel": "telegram", "payload": "ORD-9"}
    wrong = sandbox.http.post("/phones/parse-link", json={"url": "https://example.com"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "unsupported_link"


def test_telegram_entities_count_utf16_units_and_everything_is_escaped() -> None:
    text = "😀 Order <1> ready"  # the emoji is two UTF-16 units
    message = ReceivedMessage("telegram", text, text, 0.0, entities=[
        {"type": "bold", "offset": 3, "length": 9}, {"type": "text_link", "offset": 13, "length": 5,
                                                      "url": "javascript:alert(1)"}])
    html = str(render(message, CONFIG))
    assert html == "😀 <b>Order &lt;1&gt;</b> ready"  # a javascript: link is dropped, its text kept


def test_addresses_become_links_and_deep_links_open_in_the_phone() -> None:
    html = str(linkify("see https://shop.example/a?b=1&c=2 or https://t.me/omnibot_sandbox_bot?start=X", CONFIG))
    assert '<a href="https://shop.example/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">' in html
    assert 'class="deep-link" data-url="https://t.me/omnibot_sandbox_bot?start=X"' in html


def test_keyboards_follow_the_bot_reply_markup_and_viber_keyboard() -> None:
    share = {"keyboard": [[{"text": "Share my phone", "request_contact": True}]], "one_time_keyboard": True}
    asked = ReceivedMessage("telegram", "share?", "share?", 10.0, reply_markup=share)
    assert [[b.action for b in row] for row in telegram_keyboard([asked], [])] == [["telegram/share-contact"]]
    assert telegram_keyboard([asked], [Sent("telegram", "text", "hi", 11.0)]) == []  # one-time: used
    removed = ReceivedMessage("telegram", "thanks", "thanks", 12.0, reply_markup={"remove_keyboard": True})
    assert telegram_keyboard([asked, removed], []) == []

    keyboard = {"Type": "keyboard", "Buttons": [
        {"ActionType": "share-phone", "ActionBody": "share-phone", "Text": "<font color='#fff'>Share</font>"},
        {"ActionType": "open-url", "ActionBody": "javascript:alert(1)", "Text": "Bad", "Columns": 3}]}
    viber = ReceivedMessage("viber", "hello", "hello", 1.0, keyboard=keyboard)
    rows = viber_keyboard([viber])
    assert [[(b.label, b.action) for b in row] for row in rows] == [[("Share", "viber/share-contact")],
                                                                   [("Bad", "none")]]
