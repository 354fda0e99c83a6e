"""What only the ARI driver has: the events websocket dropping mid-call, the per-call media URLs, the
stored recordings left on Asterisk, the shared-directory media mode, and the fake ARI server failing
loudly. The user stories themselves run over both drivers in test_calls_deposit.py and
test_calls_checking.py."""

import asyncio

import aiohttp
import pytest

from ivr.ari.playlist import keys_of, playback_id, say_media, silence
from ivr.config import AriSettings
from ivr.flow.actions import DateTime, Digits, Number
from tests.callkit import ARI_PASSWORD, said, settings_for, start

LEAVE = "say tone 3s then press #; press 1"


@pytest.fixture
async def system(tmp_path, store_url):
    async with await start(settings_for(tmp_path, store_url), "ari") as running:
        yield running


@pytest.fixture
async def box(system):
    return await system.api.create_box("3000", pin="1234", is_setup=True)


async def test_the_events_websocket_dropping_mid_recording_keeps_the_message(system, box):
    fake = system.fake_ari
    fake.drop_on = "recording"
    call = await system.call("say tone 3s", leave="3000", caller_number="5550000")
    assert call.ok, call.errors
    # vmbox stopped the live recording, fetched it, then sent the channel back to the dialplan.
    assert call.closed and call.variables == {"VMBOX_RESULT": "failed"}
    [message] = await system.messages(box["id"])
    # 3 s of tone, then the silence that ended it, cut back to 200 ms as Asterisk's ARI recordings are.
    assert message["caller_id_number"] == "5550000" and 3150 <= message["length"] <= 3300
    assert fake.stored == {} and fake.live == {}
    await fake.wait_connected(2)  # the application registered itself again
    again = await system.call(LEAVE, leave="3000")
    assert again.ok, again.errors
    assert len(await system.messages(box["id"])) == 2


async def test_the_events_websocket_dropping_during_a_prompt_sends_the_call_back_to_the_dialplan(
    system, box
):
    system.fake_ari.drop_on = "vm-intro"
    call = await system.call("", leave="3000")
    assert call.ok, call.errors
    assert call.closed and call.variables == {"VMBOX_RESULT": "failed"} and not call.recordings
    assert await system.messages(box["id"]) == []
    await system.fake_ari.wait_connected(2)


async def test_recordings_are_fetched_then_deleted_from_asterisk(system, box):
    call = await system.call(LEAVE, leave="3000")
    assert call.ok, call.errors
    assert system.fake_ari.stored == {}
    assert list(system.fake_ari.spool.glob("*.wav")) == [
        p for p in system.fake_ari.spool.glob("media-*.wav")
    ]
    assert list(system.settings.recordings_dir.iterdir()) == []


async def test_message_urls_work_during_the_call_only(system, box):
    await system.call("say tone 3s then press #; press 1", leave="3000")
    call = await system.call(
        "press 1234#; press 1; wait; wait; press 1; wait; press #", check="3000"
    )
    assert call.ok, call.errors
    urls = [url for url in system.fake_ari.media.fetched if "/ari-media/calls/" in url]
    assert len(urls) == 1  # fetched by the fake while the call played it
    shipped = [url for url in system.fake_ari.media.fetched if "/ari-media/prompts/" in url]
    async with aiohttp.ClientSession() as http:
        async with http.get(urls[0]) as reply:
            assert reply.status == 404  # revoked when the call ended
        async with http.get(urls[0].rsplit("/", 1)[0] + "/guessed-token.wav") as reply:
            assert reply.status == 404
        if shipped:
            async with http.get(shipped[0]) as reply:
                assert reply.status == 200 and reply.headers["Content-Type"] == "audio/wav"


async def test_shared_media_plays_messages_by_path(tmp_path):
    settings = settings_for(tmp_path, ari=AriSettings(media="shared"))
    async with await start(settings, "ari") as system:
        box = await system.api.create_box("3000", pin="1234", is_setup=True)
        await system.call(LEAVE, leave="3000")
        call = await system.call(
            "press 1234#; press 1; wait; wait; press 1; wait; press #", check="3000"
        )
        assert call.ok, call.errors
        played = [heard.prompt for heard in call.heard if "/media/" in heard.prompt]
        assert len(played) == 1 and played[0].startswith(str(system.settings.data_dir))
        assert not system.fake_ari.media.fetched  # nothing fetched over HTTP
        assert (await system.messages(box["id"]))[0]["folder"] == "saved"


async def test_an_unknown_entry_is_sent_back_to_the_dialplan_as_failed(system):
    call = await system.fake_ari.call("", args=["voicemail", "3000"])
    assert call.ok, call.errors
    assert call.closed and call.variables == {"VMBOX_RESULT": "failed"}


async def test_the_fake_ari_refuses_what_it_does_not_expect(system):
    fake = system.fake_ari
    base = system.settings.ari.url + "/ari"
    auth = {"Authorization": aiohttp.encode_basic_auth("vmbox", ARI_PASSWORD)}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/channels/nope/snoop", headers=auth) as reply:
            assert reply.status == 404 and (await reply.json())["message"]
        async with http.post(f"{base}/channels/1.1/answer") as reply:
            assert reply.status == 401
    assert len(fake.errors) == 1 and "snoop" in fake.errors[0]
    fake.errors.clear()  # the fixture's teardown checks nothing else went unexpected


def test_say_media_composes_what_say_would_play():
    assert say_media(Number(21)) == ["sound:digits/20", "sound:digits/1"]
    assert say_media(Digits("1*2#x")) == [
        "sound:digits/1",
        "sound:digits/star",
        "sound:digits/2",
        "sound:digits/pound",
    ]
    date = say_media(DateTime(1_700_000_000, "UTC"))  # Tuesday 14 November 2023, 22:13
    assert date == [
        f"sound:digits/{name}"
        for name in ("day-2", "mon-10", "h-14", "2", "thousand", "20", "3", "at", "10", "13", "p-m")
    ]


@pytest.mark.parametrize(
    "ms, media",
    [
        (5000, ["silence/5"]),
        (3001, ["silence/4"]),
        (0, ["silence/1"]),
        (25000, ["silence/10", "silence/10", "silence/5"]),
    ],
)
def test_digit_waits_are_silences_of_whole_seconds(ms, media):
    assert silence(ms) == [f"sound:{name}" for name in media]


@pytest.mark.parametrize("keys", ["", "0123456789*#", "*", "#1"])
def test_playback_ids_name_their_stop_keys(keys):
    assert keys_of(playback_id("1700000000.12", 3, keys)) == keys


async def test_ari_callers_hear_what_fastagi_callers_hear(tmp_path):
    """The same deposit over both drivers: the same sounds, in the same order."""
    heard = {}
    for driver in ("agi", "ari"):
        async with await start(settings_for(tmp_path / driver), driver) as system:
            await system.api.create_box("3000", timezone="Europe/Paris")
            heard[driver] = said(await system.call(LEAVE, leave="3000"))
    assert heard["agi"] == heard["ari"]


@pytest.mark.parametrize("answered", [True, False])
async def test_callback_calls_over_ari(tmp_path, answered):
    settings = settings_for(
        tmp_path, ari=AriSettings(callbacks=True, callback_endpoint="Local/{number}@vmbox-dial")
    )
    async with await start(settings, "ari") as system:
        fake = system.fake_ari
        if answered:
            fake.callees["Local/2001@vmbox-dial"] = "press #"
        box = await system.api.create_box(
            "3000",
            pin="1234",
            is_setup=True,
            notify={"callback": {"number": "2001", "schedule": [0]}},
        )
        assert (await system.call(LEAVE, leave="3000")).ok
        callee = await asyncio.wait_for(fake.originated.get(), 10)
        if answered:  # the owner lands in their mailbox, told of the new message
            assert callee.ok, callee.errors
            assert said(callee) == [
                "vm-youhave",
                "vm-goodbye",
            ]  # "you have…" cut by # in the main menu
        else:
            assert callee is None
        assert (await system.messages(box["id"]))[0]["folder"] == "new"


def test_media_urls_expire_after_their_time_to_live(tmp_path):
    from ivr.ari.media import MediaGrants
    from prompts.catalogue import PromptCatalogue

    now = [100.0]
    grants = MediaGrants(60, PromptCatalogue(), clock=lambda: now[0])
    grants.serve_at("http://10.0.0.5:8001/")
    token, url = grants.grant(tmp_path / "message.wav")
    assert url.startswith(f"http://10.0.0.5:8001/ari-media/calls/{token}.wav?") and len(token) >= 32
    assert grants.file_for(token) == tmp_path / "message.wav"
    now[0] += 60
    assert grants.file_for(token) is None
    other, _ = grants.grant(tmp_path / "other.wav")
    grants.revoke([other])
    assert grants.file_for(other) is None
    assert "/ari-media/prompts/main_menu.wav?" in grants.prompt_url("main_menu")


def test_media_urls_are_long_enough_for_asterisk_22_s_media_cache(tmp_path):
    """22.10.1 sizes the cached file's path from the URL: a short URL plays nothing (the real-Asterisk
    tests, whose cache directory is deep, hear vmbox's prompts over ARI only with this)."""
    from ivr.ari.media import MIN_URL_LENGTH, MediaGrants
    from prompts.catalogue import PromptCatalogue

    grants = MediaGrants(60, PromptCatalogue())
    grants.serve_at("http://127.0.0.1:8001")
    _, url = grants.grant(tmp_path / "message.wav")
    assert len(url) == len(grants.prompt_url("main_menu")) == MIN_URL_LENGTH >= 256


async def test_calls_in_progress_when_vmbox_stops_go_back_to_the_dialplan(tmp_path):
    async with await start(settings_for(tmp_path), "ari") as system:
        await system.api.create_box("3000")
        system.fake_ari.hold_on = "vm-intro"
        call = asyncio.create_task(system.call("", leave="3000"))
        await system.fake_ari.holding.wait()
    transcript = await call  # vmbox has stopped
    assert transcript.ok, transcript.errors
    assert transcript.closed and transcript.variables == {"VMBOX_RESULT": "failed"}


async def test_vmbox_serve_switches_to_ari_by_configuration(tmp_path):
    """The newcomer's path: an [ari] section in vmbox.toml, `vmbox serve`, and calls come in over ARI."""
    import os

    from ivr.simulator.ari import FakeAri
    from ivr.simulator.client import DEFAULT_SOUNDS
    from tests.test_cli import serving

    fake = FakeAri(DEFAULT_SOUNDS, password="s3cret")
    url = await fake.start()
    (tmp_path / "vmbox.toml").write_text(
        f'[ari]\nurl = "{url}"\npassword = "s3cret"\nmedia_port = 0\n'
    )
    environ = {key: value for key, value in os.environ.items() if not key.startswith("VMBOX_")}
    environ |= {"VMBOX_STORE_DATA_DIR": str(tmp_path / "data"), "VMBOX_AGI_PORT": "0"}
    try:
        async with serving(tmp_path, environ) as server:
            assert f"ARI application 'vmbox' at {url}" in "".join(server.stderr_lines)
            await asyncio.wait_for(fake.wait_connected(), 30)
            call = await fake.call("", args=["leave", "4999"])  # no such box: told so, then goodbye
            assert call.ok, call.errors
            assert said(call) == ["vm-nobodyavail", "vm-goodbye"] and call.server_hung_up
            status, _, _ = await server.stop()
        assert status == 0
    finally:
        await fake.stop()
    assert not fake.errors
