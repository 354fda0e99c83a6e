"""Greetings in the page: upload one and hear it by phone, record one with the (fake) microphone,
remove the temporary greeting."""

from playwright.async_api import expect

from tests.conftest import make_tone
from tests.webkit import WEB, heard_files, web  # noqa: F401

pytestmark = WEB


async def box_media(web) -> dict:
    return (await web.system.api.get(f"/vmboxes/{web.box['id']}")).data.get("media", {})


async def test_an_uploaded_greeting_is_what_callers_hear(web):
    greeting = make_tone(web.audio_dir, 2.5, "greeting.wav")
    page = await web.log_in()
    card = page.locator("#greeting-unavailable")
    await expect(card).to_contain_text("None: callers hear the standard greeting.")
    await card.get_by_label("Upload a file").set_input_files(greeting)
    await expect(page.locator("#status")).to_have_text("Unavailable greeting uploaded")
    player = card.get_by_label("Unavailable greeting")
    await expect(player).to_be_visible()
    media_id = (await box_media(web))["unavailable"]
    assert media_id in await player.get_attribute("src")
    await expect(player).not_to_have_js_property("readyState", 0)  # the page's player has it
    assert abs(await player.evaluate("audio => audio.duration") - 2.5) < 0.1
    printed = await web.call("--leave", "3000", "--script", "say tone 1s then hangup")
    # The caller first hears a stored audio file (not a prompt) as long as the upload.
    sound, seconds = heard_files(printed)[0]
    assert "/data/media/" in sound and abs(seconds - 2.5) < 0.05, printed


async def test_a_greeting_recorded_with_the_microphone_is_kept(web):
    page = await web.log_in()
    card = page.locator("#greeting-name")
    await card.get_by_role("button", name="Record").click()
    await expect(card.get_by_role("button", name="Stop recording")).to_be_visible()
    await expect(page.locator("#status")).to_contain_text("Recording the name")
    await card.get_by_role("button", name="Stop recording").click()
    await expect(page.locator("#status")).to_have_text("Name recorded")
    await expect(card.get_by_label("Name")).to_be_visible()
    assert "name" in await box_media(web)


async def test_the_temporary_greeting_can_be_removed(web):
    page = await web.log_in()
    card = page.locator("#greeting-temporary")
    await card.get_by_label("Upload a file").set_input_files(make_tone(web.audio_dir, 1.5))
    await expect(card.get_by_role("button", name="Remove")).to_be_visible()
    assert "temporary_unavailable" in await box_media(web)
    await card.get_by_role("button", name="Remove").click()
    await expect(page.locator("#status")).to_have_text("Temporary greeting removed")
    await expect(card).to_contain_text("None. While there is one")
    assert "temporary_unavailable" not in await box_media(web)
