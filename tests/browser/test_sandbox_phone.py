"""The sandbox's phones page in a real browser: a customer tries omnibot the way a person would."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Servers, screenshot


def phone_card(page: Any, phone: str) -> Any:
    return page.locator(".phone[data-customer]").filter(has_text=phone)


def test_a_customer_opens_a_deep_link_starts_shares_their_phone_and_receives_the_order(
        servers: Servers, page: Any) -> None:
    phone, order = servers.new_phone(), "ORD-7001"
    page.goto(servers.sandbox_url + "/")
    form = page.locator("#add-customer")
    form.locator("[name=name]").fill("Taras Melnyk")
    form.locator("[name=phone]").fill(phone)
    form.locator("[name=language]").select_option("en")
    form.locator("button").click()
    card = phone_card(page, phone)
    expect(card).to_be_visible()

    card.locator(".link-form input").fill(f"https://t.me/omnibot_sandbox_bot?start={order}")
    card.locator(".link-form button").click()
    telegram = card.locator(".app.telegram")
    expect(telegram.locator("[data-hint]")).to_have_text(f"Opened from a link: start={order}")
    telegram.locator("[data-start]").click()
    expect(telegram.locator(".bubble.out").first).to_contain_text(f"/start {order}")
    expect(telegram.locator(".bubble.in").first).to_contain_text("share your phone number")

    share = telegram.locator(".keyboard .key", has_text="Share my phone")
    share.click()
    expect(telegram.locator(".bubble.event")).to_contain_text(["You shared your phone number"])
    expect(telegram.locator(".bubble.in").last).to_contain_text("Your phone number is linked")
    expect(telegram.locator(".keyboard")).to_have_count(0)  # the bot removed its keyboard

    answer = servers.stack.trigger(phone, order, ["Laptop", "Mouse"])
    assert answer.json()["status"] == "Sent via Telegram"
    latest = telegram.locator(".bubble.in").last
    expect(latest).to_contain_text(f"Your order {order} is ready!")
    expect(latest).to_contain_text("Laptop")
    expect(latest.locator("b")).to_have_count(1)  # Telegram's bold entity, drawn as bold
    screenshot(page, "sandbox-phones.png", published_as="sandbox-phones.png")


def test_block_stop_and_viber_subscription_from_the_phone(servers: Servers, page: Any) -> None:
    customer, phone = servers.stack.customer(name="Iryna Bondar", language="en")
    page.goto(servers.sandbox_url + "/phones")
    card = phone_card(page, phone)
    telegram = card.locator(".app.telegram")

    telegram.get_by_role("button", name="Open bot link").click()
    expect(telegram.locator("[data-hint]")).to_have_text("Opened the bot")
    telegram.locator("[data-start]").click()
    expect(telegram.locator(".chat-status")).to_have_text("started")
    telegram.locator(".composer input").fill("/stop")
    telegram.locator(".composer button").click()
    expect(telegram.locator(".bubble.in").last).to_contain_text("You will not receive notifications here")
    telegram.get_by_role("button", name="Block").click()
    expect(telegram.locator(".chat-status")).to_have_text("you blocked the bot")
    assert servers.stack.sandbox.get(f"/sandbox/customers/{customer}").json()["telegram"]["blocked"] is True
    telegram.get_by_role("button", name="Unblock").click()
    expect(telegram.locator(".chat-status")).to_have_text("started")

    card.locator(".tab.viber").click()
    viber = card.locator(".app.viber")
    expect(viber).to_be_visible()
    viber.get_by_role("button", name="Open bot link").click()
    expect(viber.locator(".bubble.event").first).to_contain_text("Opened the chat")
    expect(viber.locator(".bubble.in").first).to_contain_text("Hello!")
    viber.locator(".composer input").fill("hello")
    viber.locator(".composer button").click()
    expect(viber.locator(".bubble.out")).to_contain_text(["hello"])
    expect(viber.locator(".chat-status")).to_have_text("subscribed")
    viber.get_by_role("button", name="Unsubscribe").click()
    expect(viber.locator(".chat-status")).to_have_text("not subscribed")
    assert servers.stack.sandbox.get(f"/sandbox/customers/{customer}").json()["viber"]["subscribed"] is False
    viber.get_by_role("button", name="Subscribe").click()
    expect(viber.locator(".chat-status")).to_have_text("subscribed")


def test_faults_and_traffic_counters_from_the_page(servers: Servers, page: Any) -> None:
    page.goto(servers.sandbox_url + "/phones")
    latency = page.locator("form[data-fault=latency]")
    latency.locator("[name=ms]").fill("250")
    latency.get_by_role("button", name="Apply").click()
    expect(page.locator("#faults-now")).to_contain_text('"fixed_ms": 250')
    assert servers.stack.sandbox.get("/sandbox/faults").json()["latency"] == {"fixed_ms": 250.0}

    page.locator("form[data-fault=outage] [name=channel]").select_option("viber")
    page.locator("form[data-fault=outage]").get_by_role("button", name="Start").click()
    expect(page.locator("#faults-now")).to_contain_text("active")
    page.locator("form[data-fault=error_rates]").get_by_role("button", name="Apply").click()
    expect(page.locator("#faults-now")).to_contain_text("telegram.sendMessage")
    faults = servers.stack.sandbox.get("/sandbox/faults").json()
    assert faults["outage"]["channel"] == "viber" and faults["error_rates"]["telegram.sendMessage"]["rate"] == 0.5

    page.get_by_role("button", name="Clear all faults").click()
    expect(page.locator("#faults-now")).to_contain_text("No faults")
    assert not any(servers.stack.sandbox.get("/sandbox/faults").json().values())

    servers.stack.sandbox.get("/bot123456789:AAsandbox-telegram-token-0000000000/getMe")
    expect(page.locator("#stats")).to_contain_text("telegram.getMe")
    page.get_by_role("button", name="Reset counters").click()
    expect(page.locator("#stats")).not_to_contain_text("telegram.getMe")


def test_a_customer_is_added_and_removed_from_the_page(servers: Servers, page: Any) -> None:
    customer, phone = servers.stack.customer(name="Removable Customer")
    page.goto(servers.sandbox_url + "/phones")
    card = phone_card(page, phone)
    expect(card).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Remove").click()
    expect(phone_card(page, phone)).to_have_count(0)
    assert servers.stack.sandbox.get(f"/sandbox/customers/{customer}").status_code == 404
