"""The operators' dashboard in a real browser: sign-in, the live notifications list, attempts, resend, contacts."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Servers, screenshot


def sign_in(page: Any, servers: Servers, password: str = PASSWORD, path: str = "/admin/") -> None:
    page.goto(servers.api_url + path)
    expect(page).to_have_url(f"{servers.api_url}/admin/login?next={path}")
    page.get_by_label("Operator password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def linked_customer(servers: Servers, order: str) -> tuple[str, str]:
    """A sandbox customer who opened the order's Telegram link and shared their phone."""
    customer, phone = servers.stack.customer(name="Oksana Hrytsenko", language="en")
    servers.stack.act(customer, "open-link", url=f"https://t.me/omnibot_sandbox_bot?start={order}")
    servers.stack.act(customer, "telegram/share-contact")
    return customer, phone


def test_a_wrong_password_is_refused_and_nothing_shows(servers: Servers, page: Any) -> None:
    page.goto(servers.api_url + "/admin/notifications")
    expect(page).to_have_url(servers.api_url + "/admin/login?next=/admin/notifications")
    page.get_by_label("Operator password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    # At once: waits start after a few wrong tries from one address (tests/integration/test_admin_auth.py).
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    expect(page.locator("table")).to_have_count(0)
    expect(page.get_by_role("link", name="Notifications")).to_have_count(0)
    screenshot(page, "dashboard-wrong-password.png")


def test_an_operator_finds_a_notification_in_the_live_list_and_opens_its_attempts(
        servers: Servers, page: Any) -> None:
    _, phone = linked_customer(servers, "ORD-8001")
    sign_in(page, servers)
    expect(page).to_have_url(servers.api_url + "/admin/notifications")

    # The list refreshes itself: a notification triggered now shows up without a reload.
    answer = servers.stack.trigger(phone, "ORD-8001", ["Kettle", "Teapot"]).json()
    assert answer["status"] == "Sent via Telegram"
    masked = phone[:4] + "*" * (len(phone) - 6) + phone[-2:]
    row = page.locator("table.list tbody tr").filter(has_text="ORD-8001")
    expect(row).to_contain_text(masked, timeout=10_000)
    expect(row).to_contain_text("sent")
    expect(page.locator("table.list")).not_to_contain_text(phone)  # masked in the list
    expect(page.locator(".cards")).to_contain_text("Telegram")
    unknown = servers.new_phone()
    assert servers.stack.trigger(unknown, "ORD-8009", ["Desk"]).json()["status"] == "Failed: User not found"
    expect(page.locator("table.list tbody tr").filter(has_text="ORD-8009")).to_contain_text("failed", timeout=10_000)
    screenshot(page, "dashboard-notifications.png", published_as="dashboard.png")

    page.get_by_label("Phone").fill(phone)
    page.get_by_label("Status").select_option("sent")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    page.locator("table.list tbody tr a.open").click()
    expect(page.locator("h1")).to_contain_text(answer["notification_id"])
    expect(page.locator(".facts")).to_contain_text(phone)  # the full number on the detail page only
    attempts = page.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(1)
    expect(attempts.first).to_contain_text("telegram")
    expect(attempts.first).to_contain_text("sent")
    screenshot(page, "dashboard-attempts.png")


def test_a_failed_notification_is_resent_from_its_page(servers: Servers, page: Any) -> None:
    phone = servers.new_phone()  # nobody has it: the trigger fails
    failed = servers.stack.trigger(phone, "ORD-8002", ["Lamp"]).json()
    assert failed["status"] == "Failed: User not found"
    sign_in(page, servers, path=f"/admin/notifications/{failed['notification_id']}")
    page.get_by_role("button", name="Resend").click()
    expect(page.locator(".flashes")).to_contain_text("Resent")
    origin = page.locator(".facts dt", has_text="Resend of").locator("xpath=following-sibling::dd[1]")
    expect(origin).to_have_text(failed["notification_id"])
    resent = page.locator("h1 code").inner_text()
    assert resent != failed["notification_id"]
    key = {"X-Internal-API-Key": servers.stack.env["INTERNAL_API_KEY"]}
    checked = servers.stack.api.get(f"/v1/notifications/{resent}", headers=key).json()
    assert (checked["phone"], checked["order_id"]) == (phone, "ORD-8002")

    page.goto(f"{servers.api_url}/admin/notifications/{failed['notification_id']}")
    expect(page.locator(".facts")).to_contain_text(resent)  # "Resent as", on the original


def test_contacts_search_a_new_link_and_erasing_a_customer(servers: Servers, page: Any) -> None:
    _, phone = linked_customer(servers, "ORD-8003")
    sign_in(page, servers)
    page.get_by_role("link", name="Contacts").click()
    page.locator("form.filters").get_by_label("Phone").fill(phone[-7:])
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.contacts tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("active")
    rows.first.locator("a.open").click()
    expect(page.locator("h1")).to_have_text(phone)

    page.get_by_label("Order id (optional)").fill("ORD-8004")
    page.get_by_role("button", name="Create link").click()
    links = page.locator("input.link")
    expect(links).to_have_count(2)
    assert links.nth(0).input_value().startswith("https://t.me/omnibot_sandbox_bot?start=ob1")
    assert links.nth(1).input_value().startswith("viber://pa?chatURI=omnibotsandbox&context=ob1")

    page.go_back()
    page.get_by_role("link", name="Erase this customer…").click()
    page.get_by_role("button", name="Erase for good").click()
    expect(page.locator(".flashes")).to_contain_text("Erased")
    key = {"X-Internal-API-Key": servers.stack.env["INTERNAL_API_KEY"]}
    assert servers.stack.api.get(f"/v1/contacts/{phone}", headers=key).status_code == 404


def test_the_queue_page_shows_depth_and_pauses(servers: Servers, page: Any) -> None:
    sign_in(page, servers, path="/admin/queue")
    expect(page.locator("[data-depth]")).to_have_text("0")
    expect(page.locator(".cards")).to_contain_text("None in force")


def test_the_notifications_page_charts_the_last_48_hours(servers: Servers, page: Any) -> None:
    _, phone = linked_customer(servers, "ORD-8010")
    assert servers.stack.trigger(phone, "ORD-8010", ["Kettle"]).json()["status"] == "Sent via Telegram"
    assert servers.stack.trigger(servers.new_phone(), "ORD-8011", ["Desk"]).json()["status"] == "Failed: User not found"
    sign_in(page, servers)

    outcomes = page.get_by_role("img", name="Sent and failed per hour")
    expect(outcomes).to_be_visible()
    expect(outcomes.locator("rect.bar.telegram").first).to_be_visible()
    expect(outcomes.locator("rect.bar.failed").first).to_be_visible()
    box = outcomes.bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 100  # drawn at size, not collapsed
    times = page.get_by_role("img", name="Time to deliver per hour")
    expect(times).to_be_visible()
    expect(times.locator(".series.p50 circle").first).to_be_visible()
    expect(page.locator(".charts .legend").first).to_contain_text("Telegram sent")
    page.locator(".charts").scroll_into_view_if_needed()
    screenshot(page, "dashboard-charts.png")
