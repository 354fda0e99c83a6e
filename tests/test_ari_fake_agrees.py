"""The fake ARI server holds to what a real Asterisk 22 showed (tests/test_real_*.py run the same on the
real one): one `media` value is one playlist split at commas, a repeated `media` replaces the list
before it, 128 values are refused; a playlist sends PlaybackStarted and PlaybackContinuing item by item
and one PlaybackFinished; a hang-up during a playback fails it."""

import asyncio

import aiohttp
import pytest

from ivr.ari.client import AriClient, _query
from ivr.simulator.ari import FakeAri, media_list
from ivr.simulator.ari_channel import Refused
from ivr.simulator.client import DEFAULT_SOUNDS

PROMPT = ["sound:vm-theperson", "sound:digits/3", "sound:vm-isunavail"]


def test_lists_are_sent_as_one_comma_separated_value():
    assert _query({"media": PROMPT, "offsetms": None, "beep": True}) == [
        ("media", "sound:vm-theperson,sound:digits/3,sound:vm-isunavail"),
        ("beep", "true"),
    ]


def test_the_fake_reads_media_as_asterisk_does():
    assert media_list("sound:a,sound:b") == ["sound:a", "sound:b"]
    assert len(media_list(",".join(["sound:a"] * 127))) == 127
    with pytest.raises(Refused, match="Too many values"):
        media_list(",".join(["sound:a"] * 128))


class App:
    """vmbox's ARI client registered with the fake, keeping every event."""

    def __init__(self, fake: FakeAri, url: str):
        self.client = AriClient(url, "vmbox", "secret", "vmbox")
        self.events: list[dict] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self.client.run(self._event, lambda: None, lambda: None))

    def _event(self, event: dict) -> None:
        self.events.append(event)
        self.changed.set()

    async def until(self, kind: str, count: int = 1) -> list[dict]:
        async with asyncio.timeout(10):
            while len(found := [e for e in self.events if e["type"] == kind]) < count:
                self.changed.clear()
                await self.changed.wait()
        return found

    async def close(self) -> None:
        await self.client.close()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def fake():
    fake = FakeAri(DEFAULT_SOUNDS)
    url = await fake.start()
    app = App(fake, url)
    await fake.wait_connected()
    yield fake, app
    await app.close()
    await fake.stop()


def playback_events(app: App) -> list[tuple[str, str, str | None, str]]:
    return [
        (
            e["type"],
            e["playback"]["media_uri"],
            e["playback"].get("next_media_uri"),
            e["playback"]["state"],
        )
        for e in app.events
        if e["type"].startswith("Playback")
    ]


async def test_a_playlist_reports_each_item_and_finishes_once(fake):
    fake, app = fake
    call = asyncio.create_task(fake.call("wait; wait; wait", args=["leave", "3000"]))
    [start] = await app.until("StasisStart")
    channel = start["channel"]["id"]
    await app.client.request("POST", f"/channels/{channel}/play", media=PROMPT, playbackId="p1")
    await app.until("PlaybackFinished")
    assert playback_events(app) == [
        ("PlaybackStarted", "sound:vm-theperson", "sound:digits/3", "playing"),
        ("PlaybackContinuing", "sound:vm-theperson", "sound:digits/3", "continuing"),
        ("PlaybackStarted", "sound:digits/3", "sound:vm-isunavail", "playing"),
        ("PlaybackContinuing", "sound:digits/3", "sound:vm-isunavail", "continuing"),
        ("PlaybackStarted", "sound:vm-isunavail", None, "playing"),
        ("PlaybackFinished", "sound:vm-isunavail", None, "done"),
    ]
    stamps = [e["timestamp"] for e in app.events if e["type"].startswith("Playback")]
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]
    await app.client.request("DELETE", f"/channels/{channel}")
    transcript = await call
    assert transcript.ok, transcript.errors


async def test_a_repeated_media_parameter_is_an_error_the_fake_reports(fake):
    fake, app = fake
    call = asyncio.create_task(fake.call("wait", args=["leave", "3000"]))
    [start] = await app.until("StasisStart")
    channel = start["channel"]["id"]
    auth = {"Authorization": aiohttp.encode_basic_auth("vmbox", "secret")}
    url = f"{app.client.base}/channels/{channel}/play?media=sound:vm-intro&media=sound:beep&playbackId=p1"
    async with aiohttp.ClientSession() as http, http.post(url, headers=auth) as reply:
        assert reply.status == 201
        assert (await reply.json())[
            "media_uri"
        ] == "sound:beep"  # the last list alone, as Asterisk plays
    await app.until("PlaybackFinished")
    await app.client.request("DELETE", f"/channels/{channel}")
    transcript = await call
    assert any("media given 2 times" in error for error in transcript.errors)


async def test_a_hang_up_during_a_playback_fails_it(fake):
    fake, app = fake
    call = asyncio.create_task(fake.call("hangup after 1s", args=["leave", "3000"]))
    [start] = await app.until("StasisStart")
    await app.client.request(
        "POST", f"/channels/{start['channel']['id']}/play", media=PROMPT, playbackId="p1"
    )
    await app.until("StasisEnd")
    kinds = [e["type"] for e in app.events if e["type"] != "StasisStart"]
    assert kinds[-4:] == [
        "ChannelHangupRequest",
        "PlaybackFinished",
        "StasisEnd",
        "ChannelDestroyed",
    ]
    assert playback_events(app)[-1] == (
        "PlaybackFinished",
        "sound:vm-theperson",
        "sound:digits/3",
        "failed",
    )
    transcript = await call
    assert transcript.ok, transcript.errors


async def test_a_recording_starts_before_its_beep_and_keeps_the_audio_up_to_the_key(fake, tmp_path):
    """Seen on Asterisk 22: RecordingStarted precedes the beep (the caller's first 0.43 s after it is
    not recorded), and a recording ended by a key keeps the audio up to the key (RECORD FILE over
    FastAGI cuts 200 ms)."""
    import wave

    fake, app = fake
    call = asyncio.create_task(fake.call("say tone 2s then press #", args=["leave", "3000"]))
    [start] = await app.until("StasisStart")
    channel = start["channel"]["id"]
    await app.client.request(
        "POST", f"/channels/{channel}/record", name="r1", format="wav", beep=True, terminateOn="any"
    )
    await app.until("RecordingFinished")
    kinds = [e["type"] for e in app.events if e["type"] != "StasisStart"]
    assert kinds == ["RecordingStarted", "ChannelDtmfReceived", "RecordingFinished"]
    path = tmp_path / "r1.wav"
    path.write_bytes(await app.client.download("/recordings/stored/r1/file"))
    with wave.open(str(path)) as stored:
        assert stored.getnframes() == 2 * 8000
    await app.client.request("DELETE", f"/channels/{channel}")
    transcript = await call
    assert transcript.ok, transcript.errors
