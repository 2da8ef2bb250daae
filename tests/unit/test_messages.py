from omnibot.services import messages


def test_order_message_names_the_order_and_every_item() -> None:
    message = messages.order_ready("ORD-1234", ["Laptop", "Mouse"])
    assert "ORD-1234" in message.text
    assert "• Laptop" in message.text and "• Mouse" in message.text


def test_item_names_are_escaped_for_telegram_html() -> None:
    message = messages.order_ready("ORD-<1>", ["<b>Bold</b> & co"])
    assert message.html is not None
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in message.html
    assert "ORD-&lt;1&gt;" in message.html
    assert "<b>Bold</b> & co" in message.text  # Viber gets plain text, no escaping


def test_huge_orders_fit_the_messengers_limits() -> None:
    message = messages.order_ready("ORD-1", ["x" * 100] * 200)
    assert message.html is not None
    assert len(message.html) <= messages.TELEGRAM_TEXT_LIMIT
    assert message.html.endswith("…")
    assert len(messages.order_ready("ORD-1", ["y" * 5000] * 3).text) <= messages.VIBER_TEXT_LIMIT
