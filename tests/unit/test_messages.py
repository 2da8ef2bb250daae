from pathlib import Path
from string import Template

import pytest

from omnibot.services.messages import TELEGRAM_TEXT_LIMIT, VIBER_TEXT_LIMIT, Messages, load_templates, substitute


@pytest.fixture
def messages() -> Messages:
    return Messages(load_templates(), default_language="uk")


def test_order_message_names_the_order_and_every_item(messages: Messages) -> None:
    message = messages.order_ready("ORD-1234", ["Laptop", "Mouse"], "en")
    assert message.text == "Your order ORD-1234 is ready!\nItems:\n• Laptop\n• Mouse"


def test_ukrainian_customers_read_ukrainian(messages: Messages) -> None:
    assert messages.order_ready("ORD-1", ["Ноутбук"], "uk").text == "Ваше замовлення ORD-1 готове!\nТовари:\n• Ноутбук"
    assert messages.language_for("uk-UA") == "uk"


def test_a_language_without_templates_gets_the_shops_default(messages: Messages) -> None:
    assert messages.language_for("de") == "uk"
    assert messages.language_for(None) == "uk"
    assert Messages(load_templates(), default_language="xx").default_language == "en"


def test_item_names_are_escaped_for_telegram_html(messages: Messages) -> None:
    message = messages.order_ready("ORD-<1>", ["<b>Bold</b> & co"], "en")
    assert message.html is not None
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in message.html
    assert message.html.startswith("<b>Your order ORD-&lt;1&gt; is ready!</b>")
    assert "<b>Bold</b> & co" in message.text  # Viber gets plain text, no escaping


def test_huge_orders_fit_the_messengers_limits(messages: Messages) -> None:
    message = messages.order_ready("ORD-1", ["x" * 100] * 200, "en")
    assert message.html is not None
    assert len(message.html) <= TELEGRAM_TEXT_LIMIT
    assert message.html.endswith("…")
    assert len(messages.order_ready("ORD-1", ["y" * 5000] * 3, "en").text) <= VIBER_TEXT_LIMIT


def test_a_shop_overrides_one_key_from_its_directory(tmp_path: Path) -> None:
    (tmp_path / "uk.toml").write_text('[order_ready]\ntitle = "Замовлення $order_id чекає на вас у магазині"\n',
                                      encoding="utf-8")
    (tmp_path / "pl.toml").write_text('[order_ready]\ntitle = "Zamówienie $order_id gotowe"\n', encoding="utf-8")
    messages = Messages(load_templates(tmp_path), default_language="uk")
    assert messages.order_ready("ORD-1", ["Mop"], "uk").text.splitlines() == [
        "Замовлення ORD-1 чекає на вас у магазині", "Товари:", "• Mop"]
    # A new language: its own keys, the shop's default language for the keys it leaves out.
    assert messages.order_ready("ORD-1", ["Mop"], "pl").text.splitlines()[0] == "Zamówienie ORD-1 gotowe"
    assert messages.order_ready("ORD-1", ["Mop"], "pl").text.splitlines()[1] == "Товари:"


def test_bot_replies_are_templated_with_a_translated_button(messages: Messages) -> None:
    welcome = messages.welcome("ORD-7", "uk")
    assert welcome.request_phone and "ORD-7" in welcome.text
    assert welcome.request_phone_label == "Поділитися номером"
    assert messages.welcome(None, "en").text.startswith("Hello! This chat will notify you about your orders")


@pytest.mark.parametrize("template", [
    "", "plain", "Order $order_id is ready", "Order ${order_id}!", "$$5 off $item", "$ alone", "a $missing b",
    "${order_id}${order_id}$item", "trailing $", "$1 is not a name", "Замовлення $order_id готове",
])
def test_templates_are_substituted_exactly_as_safe_substitute_does(template: str) -> None:
    values = {"order_id": "ORD-1", "item": "Laptop $$ ${x}"}
    assert substitute(template, values) == Template(template).safe_substitute(values)
