"""The web page as served: its files, their headers, and a browser loading it with nothing from
another origin and no error."""

from playwright.async_api import expect

from store.api.page import page_files
from tests.webkit import PIN, WEB, web  # noqa: F401  (the fixture)

pytestmark = WEB


async def test_the_page_is_served_at_the_root_with_a_strict_policy(web):
    reply = await web.fetch("/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in reply.body  # no inline script: the policy would block it


async def test_every_file_of_the_page_is_served_with_its_type_and_revalidated_by_etag(web):
    files = page_files()
    assert {"index.html", "style.css", "js/main.js"} <= set(files)
    for name, file in files.items():
        reply = await web.fetch(f"/web/{name}")
        assert reply.status == 200, (name, reply.headers)
        assert reply.headers["Content-Type"].startswith(file.content_type), (name, reply.headers)
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        again = await web.fetch(f"/web/{name}", {"If-None-Match": reply.headers["ETag"]})
        assert again.status == 304, name


async def test_only_the_page_s_own_files_are_served(web):
    for path in ("/web/nothing.js", "/web/../pyproject.toml", "/web/%2e%2e/api/page.py"):
        reply = await web.fetch(path)
        assert reply.status == 404, path


async def test_the_page_loads_without_errors_and_fetches_nothing_from_elsewhere(web):
    requested, problems = [], []
    web.page.on("request", lambda request: requested.append(request.url))
    web.page.on("console", lambda message: message.type == "error" and problems.append(message))
    web.page.on("pageerror", lambda error: problems.append(error))
    page = await web.open()
    await expect(page.get_by_label("PIN", exact=True)).to_be_visible()
    assert requested and all(url.startswith(web.base + "/") for url in requested), requested
    # The one console error allowed: the 401 of asking who the (absent) cookie is.
    assert all("401" in str(getattr(problem, "text", problem)) for problem in problems), problems


async def test_every_control_has_a_name_and_the_keyboard_alone_logs_in(web):
    await web.message(2, ("Alice Smith", "5551234"))
    page = await web.open()
    await expect(page.get_by_label("Mailbox", exact=True)).to_be_focused()
    await page.keyboard.type("3000")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("PIN", exact=True)).to_be_focused()
    await page.keyboard.type(PIN)
    await page.keyboard.press("Enter")
    await expect(page.locator("button.message")).to_have_count(1)
    unnamed = await page.locator("input, select, textarea, button, a[href], audio").evaluate_all(
        """elements => elements
            .filter(element => element.checkVisibility())
            .filter(element => !(element.labels && element.labels.length)
                && !element.getAttribute("aria-label") && !element.textContent.trim())
            .map(element => element.outerHTML)"""
    )
    assert unnamed == []


async def test_the_token_stays_out_of_addresses_storage_and_scripts_reach(web):
    await web.message(2, ("Alice Smith", "5551234"))
    addresses = []
    web.page.on("request", lambda request: addresses.append(request.url))
    page = web.page
    async with page.expect_response(
        lambda response: (
            response.url.endswith("/v2/vmbox_auth") and response.request.method == "PUT"
        )
    ) as login:
        await web.log_in()
    token = (await (await login.value).json())["auth_token"]
    await expect(page.get_by_role("button", name="Play")).to_be_visible()
    await page.get_by_role("button", name="Play").click()
    await expect(page.get_by_label("Position")).not_to_have_value("0")
    assert len(token) > 16 and addresses
    assert not [address for address in addresses if token in address]
    kept = await page.evaluate(
        "[document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]"
    )
    assert kept == ["", "{}", "{}"]  # the cookie is HttpOnly; nothing else keeps it
