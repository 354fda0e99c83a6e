"""Settings in the page: a new PIN works by phone, the API's validation messages show next to their
fields, and the other settings reach the box."""

from playwright.async_api import expect

from store.ids import GREGORIAN_OFFSET
from tests.webkit import LEFT_AT, PIN, WEB, shown_time, web  # noqa: F401

pytestmark = WEB


async def test_a_pin_changed_in_the_page_logs_in_by_phone(web):
    page = await web.log_in()
    await page.get_by_label("New PIN").fill("2468")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#status")).to_have_text("Settings saved")
    await expect(page.get_by_label("New PIN")).to_have_value("")
    printed = await web.call("--check", "3000", "--script", "press 2468#; press #")
    assert "vm-youhave" in printed and "vm-incorrect" not in printed
    old = f"press {PIN}#"
    printed = await web.call("--check", "3000", "--script", f"{old}; {old}; {old}")
    assert "vm-incorrect" in printed and "vm-youhave" not in printed


async def test_the_api_s_validation_messages_show_next_to_their_fields(web):
    page = await web.log_in()
    await page.get_by_label("New PIN").fill("12")
    await page.get_by_label("Notification email addresses").fill(
        "owner@example.com\nnot-an-address"
    )
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#error-pin")).to_contain_text("at least 4 characters")
    await expect(page.get_by_label("New PIN")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("New PIN")).to_be_focused()
    await expect(page.locator("#error-notify_email_addresses")).to_contain_text(
        "not in the correct format"
    )
    box = (await web.system.api.get(f"/vmboxes/{web.box['id']}")).data
    assert box.get("notify_email_addresses", []) == []


async def test_the_other_settings_reach_the_box(web):
    await web.message(2, ("Alice Smith", "5551234"), timestamp=LEFT_AT + GREGORIAN_OFFSET)
    page = await web.log_in()
    await page.get_by_label("Notification email addresses").fill("a@example.com, b@example.com")
    await page.get_by_label("Call-back number").fill("5550100")
    await page.get_by_label("Call-back schedule").fill("0, 300, 900")
    await page.get_by_label("Fast-forward and rewind step (seconds)").fill("5")
    await page.get_by_label("Time zone").select_option("Europe/Paris")
    await page.get_by_label("Skip the greeting").check()
    await page.get_by_label("Skip the instructions").check()
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#status")).to_have_text("Settings saved")
    await expect(page.locator("#zone")).to_have_text("Times in Europe/Paris")
    alice = page.locator("button.message", has_text="Alice Smith")
    await expect(alice).to_contain_text(shown_time(LEFT_AT, "Europe/Paris"))
    await expect(page.get_by_role("button", name="Back 5 seconds")).to_be_visible()
    box = (await web.system.api.get(f"/vmboxes/{web.box['id']}")).data
    assert box["notify_email_addresses"] == ["a@example.com", "b@example.com"]
    assert box["notify"]["callback"] == {"number": "5550100", "schedule": [0, 300, 900]}
    assert box["seek_duration_ms"] == 5000 and box["timezone"] == "Europe/Paris"
    assert box["skip_greeting"] and box["skip_instructions"] and not box["skip_envelope"]
