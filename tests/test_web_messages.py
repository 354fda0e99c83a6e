"""Messages in the page, in a real Chromium against a real vmbox: the folders' entries, the player,
filing, forwarding, downloading, keyboard alone, and a message left by phone appearing live."""

import re

from playwright.async_api import expect

from store.ids import GREGORIAN_OFFSET
from store.messages import set_transcription
from tests.webkit import DESKTOP, LEFT_AT, PHONE, WEB, ZONE, screenshot, shown_time, web  # noqa: F401

pytestmark = WEB


async def inbox(web) -> dict:
    """Three new messages: Alice's (3 s, transcribed), an unknown caller's, Bob's (65 s)."""
    alice = await web.message(3, ("Alice Smith", "5551234"), timestamp=LEFT_AT + GREGORIAN_OFFSET)
    await web.message(7, ("anonymous", "anonymous"), timestamp=LEFT_AT + 60 + GREGORIAN_OFFSET)
    bob = await web.message(65, ("Bob", "6001"), timestamp=LEFT_AT + 120 + GREGORIAN_OFFSET)
    await set_transcription(
        web.system.running.store,
        web.system.api.account_id,
        web.box["id"],
        alice["media_id"],
        "success",
        "Hi, it's Alice, call me back about the lease.",
    )
    return {"alice": alice, "bob": bob}


def entry(page, caller: str):
    return page.locator("button.message", has_text=caller)


async def test_each_message_shows_caller_time_in_the_box_s_zone_length_and_transcription(web):
    await inbox(web)
    page = await web.log_in()
    alice = entry(page, "Alice Smith")
    await expect(alice).to_contain_text("5551234")
    # The browser runs in UTC; the box's zone is New York's.
    await expect(alice).to_contain_text(shown_time(LEFT_AT, ZONE))
    await expect(alice).to_contain_text("0:03")
    await expect(alice).to_contain_text("call me back about the lease")
    await expect(entry(page, "Unknown caller")).to_contain_text("0:07")
    await expect(entry(page, "Bob")).to_contain_text("1:05")
    await expect(page.locator("#count-new")).to_have_text("3")
    await expect(page).to_have_title("(3) Voicemail 3000")
    await alice.click()
    await expect(page.locator("#detail-transcription")).to_have_text(
        "Hi, it's Alice, call me back about the lease."
    )
    await expect(page.locator("#player")).not_to_have_js_property("readyState", 0)
    await page.mouse.move(0, 0)
    await screenshot(page, "messages-desktop")
    await page.set_viewport_size(PHONE)
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "messages-phone")
    await page.set_viewport_size(DESKTOP)


async def test_the_player_plays_reports_the_length_and_seeks_over_range_requests(web):
    await web.message(3, ("Alice Smith", "5551234"))
    await web.system.api.patch(f"/vmboxes/{web.box['id']}", {"data": {"seek_duration_ms": 1000}})
    ranged = []
    web.page.on("response", lambda response: "/raw" in response.url and ranged.append(response))
    page = await web.log_in()
    await entry(page, "Alice Smith").click()
    play = page.get_by_role("button", name="Play")
    await play.click()
    await expect(page.get_by_role("button", name="Pause")).to_be_visible()
    await expect(page.get_by_label("Position")).not_to_have_value("0")
    assert abs(await page.locator("#player").evaluate("audio => audio.duration") - 3) < 0.2
    await page.get_by_role("button", name="Pause").click()
    await page.get_by_label("Position").fill("2")
    await expect(page.locator("#position")).to_have_text("0:02 / 0:03")
    assert abs(await page.locator("#player").evaluate("audio => audio.currentTime") - 2) < 0.05
    await page.get_by_role("button", name="Back 1 second").click()
    await expect(page.locator("#position")).to_have_text("0:01 / 0:03")
    assert any(response.status == 206 for response in ranged), [r.status for r in ranged]


async def test_save_delete_restore_and_mark_new(web):
    messages = await inbox(web)
    page = await web.log_in()
    await entry(page, "Alice Smith").click()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#status")).to_have_text("Message saved")
    await expect(entry(page, "Alice Smith")).to_have_count(0)
    await page.get_by_role("tab", name=re.compile("^Saved")).click()
    await entry(page, "Alice Smith").click()
    await page.get_by_role("button", name="Delete").click()
    await expect(entry(page, "Alice Smith")).to_have_count(0)
    await page.get_by_role("tab", name=re.compile("^Deleted")).click()
    await entry(page, "Alice Smith").click()
    await page.get_by_role("button", name="Restore").click()
    await expect(page.locator("#status")).to_have_text("Message restored to Saved")
    alice = messages["alice"]["media_id"]
    assert (await web.system.api.get(f"/vmboxes/{web.box['id']}/messages/{alice}")).data[
        "folder"
    ] == "saved"
    await page.get_by_role("tab", name=re.compile("^Saved")).click()
    await entry(page, "Alice Smith").click()
    await page.get_by_role("button", name="Mark new").click()
    await page.get_by_role("tab", name=re.compile("^New")).click()
    await expect(entry(page, "Alice Smith")).to_be_visible()
    await expect(page.locator("#count-new")).to_have_text("3")


async def test_forward_to_another_mailbox(web):
    other = await web.system.api.create_box("3001", pin="2222")
    await inbox(web)
    page = await web.log_in()
    await entry(page, "Alice Smith").click()
    await page.get_by_label("Forward to mailbox").fill("3001")
    await page.get_by_role("button", name="Forward", exact=True).click()
    await expect(page.locator("#status")).to_have_text("Message forwarded to mailbox 3001")
    [forwarded] = await web.system.messages(other["id"])
    assert forwarded["caller_id_number"] == "5551234"
    await page.get_by_label("Forward to mailbox").fill("9999")
    await page.get_by_role("button", name="Forward", exact=True).click()
    await expect(page.locator("#forward-error")).not_to_be_empty()
    await expect(page.get_by_label("Forward to mailbox")).to_have_attribute("aria-invalid", "true")


async def test_download_saves_the_audio_with_no_token_in_its_address(web):
    await inbox(web)
    page = await web.log_in()
    await entry(page, "Alice Smith").click()
    link = page.get_by_role("link", name="Download")
    href = await link.get_attribute("href")
    assert href.endswith("/raw") and "token" not in href
    async with page.expect_download() as download:
        await link.click()
    assert (await download.value).suggested_filename.endswith(".mp3")


async def test_the_keyboard_alone_files_messages(web):
    await inbox(web)
    page = await web.log_in()
    await expect(entry(page, "Bob")).to_have_attribute("aria-current", "true")
    await page.keyboard.press("j")
    await expect(entry(page, "Unknown caller")).to_have_attribute("aria-current", "true")
    await expect(entry(page, "Unknown caller")).to_be_focused()
    await page.keyboard.press("k")
    await expect(entry(page, "Bob")).to_have_attribute("aria-current", "true")
    await page.keyboard.press("s")
    await expect(entry(page, "Bob")).to_have_count(0)
    await page.keyboard.press("d")
    await expect(page.locator("#status")).to_have_text("Message deleted")
    await page.keyboard.press("Space")
    await expect(page.get_by_role("button", name="Pause")).to_be_visible()
    await page.keyboard.press("Space")
    await expect(page.get_by_role("button", name="Play")).to_be_visible()
    await page.keyboard.press("3")
    await expect(page.get_by_role("tab", name=re.compile("^Deleted"))).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page.locator("button.message")).to_have_count(1)
    await page.keyboard.press("r")
    await expect(page.locator("button.message")).to_have_count(0)
    await page.keyboard.press("2")
    await expect(page.locator("button.message")).to_have_count(2)


async def test_a_message_left_by_phone_appears_without_reloading(web):
    page = await web.log_in()
    await expect(page.locator("#empty-folder")).to_be_visible()
    await expect(page).to_have_title("Voicemail 3000")
    await web.call(
        "--leave",
        "3000",
        "--caller-id",
        '"Carol" <5550001>',
        "--script",
        "say tone 4s then press #; press 1",
    )
    await expect(entry(page, "Carol")).to_contain_text("5550001")
    await expect(entry(page, "Carol")).to_contain_text("0:04")
    await expect(page).to_have_title("(1) Voicemail 3000")
