"""Logging in to the page: mailbox and PIN (the phone's lockout applies), an account's API key,
logging out, and a reload that goes on with the browser's cookie."""

import re

from playwright.async_api import expect

from store.accounts import create_account, create_token
from tests.conftest import ApiClient
from tests.webkit import DESKTOP, PHONE, PIN, WEB, screenshot, web  # noqa: F401

pytestmark = WEB


async def test_logging_in_with_mailbox_and_pin_opens_the_box(web):
    await web.page.set_viewport_size(PHONE)
    await screenshot(await web.open(), "login-phone")
    await web.page.set_viewport_size(DESKTOP)
    page = await web.open()
    await screenshot(page, "login-desktop")
    await web.log_in()
    await expect(page.locator("#box-title")).to_have_text("Box 3000 · mailbox 3000")
    await expect(page.get_by_role("tab", name=re.compile("^New"))).to_have_attribute(
        "aria-selected", "true"
    )
    await expect(page.locator("#login-view")).to_be_hidden()


async def test_a_wrong_pin_is_refused_and_said(web):
    page = await web.log_in(pin="0000")
    await expect(page.get_by_role("alert")).to_have_text("Wrong mailbox or PIN.")
    await expect(page.get_by_label("PIN", exact=True)).to_be_focused()
    await expect(page.get_by_label("PIN", exact=True)).to_have_value("")
    await expect(page.locator("#box-view")).to_be_hidden()


async def test_wrong_pins_lock_the_box_even_against_the_right_one(web):
    for _ in range(2):
        page = await web.log_in(pin="0000")
        await expect(page.locator("#pin-error")).to_have_text("Wrong mailbox or PIN.")
    page = await web.log_in(pin="0000")
    await expect(page.locator("#pin-error")).to_contain_text("locked")
    await page.get_by_label("PIN", exact=True).fill(PIN)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page.locator("#pin-error")).to_contain_text("locked")
    await expect(page.locator("#box-view")).to_be_hidden()
    # The phone shares the counter: the right PIN is refused there too.
    login = f"press {PIN}#"
    printed = await web.call("--check", "3000", "--script", f"{login}; {login}; {login}")
    assert "vm-youhave" not in printed


async def test_a_reload_keeps_the_login_and_logging_out_ends_it(web):
    page = await web.log_in()
    await expect(page.locator("#box-view")).to_be_visible()
    await page.reload()
    await expect(page.locator("#box-title")).to_have_text("Box 3000 · mailbox 3000")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_label("Mailbox", exact=True)).to_be_visible()
    await page.reload()
    await expect(page.get_by_label("Mailbox", exact=True)).to_be_visible()
    await expect(page.locator("#box-view")).to_be_hidden()


async def test_an_account_s_api_key_sees_all_its_boxes(web):
    db = web.system.running.store.db
    account, api_key = await create_account(db, "Acme")
    token, _ = await create_token(db, account.id, 3600)
    acme = ApiClient(web.system.api.session, web.base, account.id, token)
    await acme.create_box("4000", pin="4444", timezone="Europe/Paris")
    await acme.create_box("4001", pin="4444")
    page = await web.open()
    await page.get_by_text("Log in with an account's API key").click()
    await page.get_by_label("API key").fill(api_key)
    await page.get_by_role("button", name="Log in with the key").click()
    await expect(page.locator("#box-title")).to_have_text("Box 4000 · mailbox 4000")
    await page.get_by_label("Box", exact=True).select_option(label="4001 · Box 4001")
    await expect(page.locator("#box-title")).to_have_text("Box 4001 · mailbox 4001")


async def test_with_several_accounts_the_login_asks_for_the_account(web):
    db = web.system.running.store.db
    account, _ = await create_account(db, "Acme")
    token, _ = await create_token(db, account.id, 3600)
    await ApiClient(web.system.api.session, web.base, account.id, token).create_box(
        "3000", pin="4444"
    )
    page = await web.log_in(pin="4444")
    await expect(page.get_by_label("Account")).to_be_focused()
    await page.get_by_label("Account").fill("Acme")
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(page.locator("#box-title")).to_have_text("Box 3000 · mailbox 3000")


def is_pin_login(response) -> bool:
    return response.url.endswith("/v2/vmbox_auth") and response.request.method == "PUT"


async def test_too_many_failed_logins_from_one_address_are_told_to_wait(web):
    page = await web.open()
    pin_error = page.locator("#pin-error")
    for attempt in range(10):  # the API's limit per address and minute, boxes that do not exist
        await page.get_by_label("Mailbox", exact=True).fill(f"90{attempt:02}")
        await page.get_by_label("PIN", exact=True).fill("0000")
        async with page.expect_response(is_pin_login):
            await page.get_by_role("button", name="Log in", exact=True).click()
        await expect(pin_error).to_have_text("Wrong mailbox or PIN.")
    await page.get_by_label("Mailbox", exact=True).fill("3000")
    await page.get_by_label("PIN", exact=True).fill(PIN)
    await page.get_by_role("button", name="Log in", exact=True).click()
    await expect(pin_error).to_have_text(
        re.compile(r"^Too many attempts from this address\. Try again in \d+ seconds\.$")
    )
