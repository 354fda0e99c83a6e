"""A box's greetings over the API (`…/vmboxes/{box}/greetings/{kind}`): hear, upload, replace and
remove them, from an account's token or the box's own login; what callers then hear."""

import subprocess

import aiohttp
import pytest

from tests.callkit import is_recorded_audio, settings_for, start
from tests.conftest import make_tone, probe


@pytest.fixture
async def box(api) -> dict:
    return await api.client.create_box("3000", pin="1234")


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


async def upload(client, box_id: str, kind: str, audio: bytes, content_type="audio/wav", **kw):
    return await client.call(
        "PUT",
        f"/vmboxes/{box_id}/greetings/{kind}",
        data=audio,
        headers={"Content-Type": content_type},
        **kw,
    )


async def box_media(api, box_id: str) -> dict:
    return (await api.client.get(f"/vmboxes/{box_id}")).data.get("media", {})


async def test_an_uploaded_greeting_is_set_on_the_box_and_heard_back(api, box, tmp_path):
    created = await upload(
        api.client, box["id"], "unavailable", make_tone(tmp_path, 2).read_bytes()
    )
    assert created.status == 201, created.body
    media = created.data
    assert 1900 <= media["length"] <= 2100 and media["media_source"] == "upload"
    assert await box_media(api, box["id"]) == {"unavailable": media["id"]}
    wav = await api.client.get(f"/vmboxes/{box['id']}/greetings/unavailable")
    assert wav.status == 200 and wav.headers["Content-Type"] == "audio/x-wav"
    assert probe(wav.body, tmp_path, ".wav")["sample_rate"] == 8000
    assert 'filename="unavailable_greeting_of_3000.wav"' in wav.headers["Content-Disposition"]
    mp3 = await api.client.get(f"/vmboxes/{box['id']}/greetings/unavailable?format=mp3")
    assert mp3.headers["Content-Type"] == "audio/mpeg"
    assert 1.8 <= probe(mp3.body, tmp_path, ".mp3")["duration"] <= 2.3


async def test_a_multipart_upload_of_any_format_replaces_the_greeting_and_its_media(
    api, box, tmp_path, tone_mp3
):
    first = await upload(api.client, box["id"], "temporary", make_tone(tmp_path, 1).read_bytes())
    form = aiohttp.FormData()
    form.add_field("file", tone_mp3.read_bytes(), content_type="audio/mpeg", filename="hi.mp3")
    replaced = await api.client.call("PUT", f"/vmboxes/{box['id']}/greetings/temporary", data=form)
    assert replaced.status == 200, replaced.body
    assert 2900 <= replaced.data["length"] <= 3100
    assert await box_media(api, box["id"]) == {"temporary_unavailable": replaced.data["id"]}
    # The greeting it replaced was the box's own: it is gone, not left behind at every upload.
    assert (await api.client.get(f"/media/{first.data['id']}")).status == 404


async def test_a_greeting_recorded_in_a_browser_is_taken(api, box, tmp_path):
    """What a browser's MediaRecorder makes: Opus in WebM (made here by ffmpeg)."""
    wav, webm = tmp_path / "mic.wav", tmp_path / "mic.webm"
    run("sox", "-n", "-r", "48000", "-c", "1", str(wav), "synth", "1.5", "sine", "440")
    run("ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(webm))
    reply = await upload(
        api.client, box["id"], "unavailable", webm.read_bytes(), "audio/webm;codecs=opus"
    )
    assert reply.status == 201, reply.body
    assert 1400 <= reply.data["length"] <= 1600


async def test_a_greeting_the_account_gave_the_box_is_kept_when_replaced(api, box, tmp_path):
    given = await api.client.put("/media", {"data": {"name": "Company greeting"}})
    await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"media": {"name": given.data["id"]}}})
    replaced = await upload(api.client, box["id"], "name", make_tone(tmp_path, 1).read_bytes())
    assert replaced.status == 200
    assert (await api.client.get(f"/media/{given.data['id']}")).status == 200


async def test_removing_a_greeting_unsets_it_and_answers_with_what_it_was(api, box, tmp_path):
    set_ = await upload(api.client, box["id"], "temporary", make_tone(tmp_path, 1).read_bytes())
    removed = await api.client.delete(f"/vmboxes/{box['id']}/greetings/temporary")
    assert removed.status == 200 and removed.data["id"] == set_.data["id"]
    assert await box_media(api, box["id"]) == {}
    assert (await api.client.get(f"/media/{set_.data['id']}")).status == 404
    for method in ("GET", "DELETE"):
        missing = await api.client.call(method, f"/vmboxes/{box['id']}/greetings/temporary")
        assert missing.status == 404
        assert missing.data["message"] == "box 3000 has no temporary greeting"


@pytest.mark.parametrize(
    "method, body, status",
    [("GET", None, 404), ("PUT", b"RIFF", 404), ("DELETE", None, 404)],
)
async def test_an_unknown_kind_of_greeting_is_not_found(api, box, method, body, status):
    reply = await api.client.call(
        method,
        f"/vmboxes/{box['id']}/greetings/busy",
        data=body,
        headers={"Content-Type": "audio/wav"},
    )
    assert reply.status == status
    assert "unavailable, temporary, name" in reply.data["message"]


async def test_what_is_not_audio_is_refused_and_nothing_is_set(api, box):
    reply = await upload(api.client, box["id"], "unavailable", b"hello, not audio")
    assert reply.status == 400 and "format" in reply.data["file"]
    assert await box_media(api, box["id"]) == {}


async def test_the_box_s_own_login_manages_its_greetings_unless_it_may_not_configure(
    api, box, tmp_path
):
    login = await api.client.put(
        "/v2/vmbox_auth",
        {"data": {"mailbox": "3000", "pin": "1234", "account_name": "A"}},
        token="",
    )
    token = login.body["auth_token"]
    tone = make_tone(tmp_path, 1).read_bytes()
    assert (await upload(api.client, box["id"], "name", tone, token=token)).status == 201
    path = f"/vmboxes/{box['id']}/greetings/name"
    assert (await api.client.get(path, token=token)).status == 200
    await api.client.patch(f"/vmboxes/{box['id']}", {"data": {"not_configurable": True}})
    assert (await upload(api.client, box["id"], "name", tone, token=token)).status == 403
    assert (await api.client.delete(path, token=token)).status == 403
    assert (await api.client.get(path, token=token)).status == 200  # hearing it changes nothing
    other = await api.client.create_box("3001")
    assert (
        await api.client.get(f"/vmboxes/{other['id']}/greetings/name", token=token)
    ).status == 403


async def test_callers_hear_the_greeting_uploaded_through_the_api(tmp_path):
    async with await start(settings_for(tmp_path)) as system:
        box = await system.api.create_box("3000", pin="1234")
        tone = make_tone(tmp_path, 2).read_bytes()
        assert (await upload(system.api, box["id"], "unavailable", tone)).status == 201
        call = await system.call("hangup after 500ms", leave="3000")
        assert is_recorded_audio(call.heard[0]) and call.heard[0].hung_up
