"""Message audio through the REST API: uploads (multipart and raw), storage format, downloads and ZIPs.

Black-box: a real server, real SQLite, real files made by sox/ffmpeg, and the stored file read from disk.
"""

import io
import json
import re
import time
import wave
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.multipart import parse_content_disposition

from tests.conftest import make_tone, media_files, probe, tmp_files

GREGORIAN_OFFSET = 62167219200  # seconds from 0000-01-01 to 1970-01-01
# ffprobe reports an MP3's duration in whole frames (72 ms at 8 kHz) plus the encoder's padding.
DURATION_SLACK_S = 0.2
SAFE_NAME = re.compile(r"[A-Za-z0-9+_-][A-Za-z0-9+._-]*")


def seed_multipart(
    metadata: object, audio: bytes, audio_type: str = "audio/mp3"
) -> aiohttp.MultipartWriter:
    """The body the seed's curl sends: multipart/mixed, two parts both named `content`."""
    writer = aiohttp.MultipartWriter("mixed")
    part = writer.append(json.dumps(metadata).encode(), {"Content-Type": "application/json"})
    part.set_content_disposition("form-data", name="content", filename="message.json")
    part = writer.append(audio, {"Content-Type": audio_type})
    part.set_content_disposition("form-data", name="content", filename="voice.mp3")
    return writer


def audio_only_multipart(audio: bytes, audio_type: str = "audio/mp3") -> aiohttp.MultipartWriter:
    """The body of the seed's `PUT …/raw` curl: multipart/mixed with one audio part named `content`."""
    writer = aiohttp.MultipartWriter("mixed")
    part = writer.append(audio, {"Content-Type": audio_type})
    part.set_content_disposition("form-data", name="content", filename="voice.mp3")
    return writer


def form_data(metadata: object, audio: bytes, audio_type: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(
        "content", json.dumps(metadata), content_type="application/json", filename="message.json"
    )
    form.add_field("content", audio, content_type=audio_type, filename="voice")
    return form


def download_filename(reply) -> str:
    kind, params = parse_content_disposition(reply.headers["Content-Disposition"])
    assert kind == "attachment"
    return params["filename"]


def stamp(gregorian: int, zone: str) -> str:
    return datetime.fromtimestamp(gregorian - GREGORIAN_OFFSET, ZoneInfo(zone)).strftime(
        "%Y-%m-%d_%H-%M-%S"
    )


def a_day_ago() -> int:
    return int(time.time()) + GREGORIAN_OFFSET - 86400


def stored_wav(data_dir: Path) -> Path:
    (name,) = media_files(data_dir)
    return data_dir / "media" / name


async def create_with_audio(api, box_id: str, audio: Path, **metadata) -> dict:
    reply = await api.client.call(
        "PUT",
        f"/vmboxes/{box_id}/messages",
        data=seed_multipart({"data": metadata}, audio.read_bytes()),
    )
    assert reply.status == 201, reply.body
    return reply.data


# --- creating a message with its audio in one request ---------------------------------------------------


async def test_multipart_mixed_create_as_the_seed_curl_sends_it(api, tone_mp3):
    box = await api.client.create_box("3000")
    body = seed_multipart(
        {
            "data": {
                "caller_id_name": "someone",
                "caller_id_number": "6001",
                "folder": "new",
                "from": "someone@farfaraway.com",
            }
        },
        tone_mp3.read_bytes(),
    )
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=body)
    assert reply.status == 201, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.data["caller_id_number"] == "6001"
    assert reply.data["from"] == "someone@farfaraway.com"
    assert abs(reply.data["length"] - 3000) <= 50
    fetched = await api.client.get(f"/vmboxes/{box['id']}/messages/{reply.data['media_id']}")
    assert fetched.status == 200
    assert fetched.data["length"] == reply.data["length"]


async def test_multipart_form_data_create_stores_message_and_audio(api, tone_wav):
    box = await api.client.create_box("3000")
    body = form_data({"data": {"caller_id_number": "6002"}}, tone_wav.read_bytes(), "audio/wav")
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=body)
    assert reply.status == 201, reply.body
    assert reply.data["caller_id_number"] == "6002"
    assert abs(reply.data["length"] - 3000) <= 50
    assert len(media_files(api.data_dir)) == 1


@pytest.mark.parametrize("wrap", [True, False], ids=["kazoo-envelope", "bare-metadata"])
async def test_json_part_may_be_an_envelope_or_bare_metadata(api, tone_mp3, wrap):
    box = await api.client.create_box("3000")
    metadata = {"caller_id_number": "6003", "caller_id_name": "Bare Or Not", "folder": "saved"}
    body = seed_multipart({"data": metadata} if wrap else metadata, tone_mp3.read_bytes())
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=body)
    assert reply.status == 201, reply.body
    assert {key: reply.data[key] for key in metadata} == metadata


async def test_json_part_may_come_after_the_audio_part(api, tone_mp3):
    box = await api.client.create_box("3000")
    writer = aiohttp.MultipartWriter("mixed")
    part = writer.append(tone_mp3.read_bytes(), {"Content-Type": "audio/mp3"})
    part.set_content_disposition("form-data", name="content", filename="voice.mp3")
    metadata = json.dumps({"data": {"caller_id_number": "6004"}}).encode()
    part = writer.append(metadata, {"Content-Type": "application/json"})
    part.set_content_disposition("form-data", name="content", filename="message.json")
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=writer)
    assert reply.status == 201, reply.body
    assert reply.data["caller_id_number"] == "6004"
    assert abs(reply.data["length"] - 3000) <= 50


async def test_json_as_a_plain_form_field_is_read_as_the_metadata(api, tone_mp3):
    """What `curl -F 'metadata={...}' -F 'file=@voice.mp3'` or aiohttp's FormData text field sends."""
    box = await api.client.create_box("3000")
    form = aiohttp.FormData()
    form.add_field("metadata", json.dumps({"data": {"caller_id_number": "6005"}}))
    form.add_field("file", tone_mp3.read_bytes(), content_type="audio/mpeg", filename="voice.mp3")
    reply = await api.client.call("PUT", f"/vmboxes/{box['id']}/messages", data=form)
    assert reply.status == 201, reply.body
    assert reply.data["caller_id_number"] == "6005"
    assert abs(reply.data["length"] - 3000) <= 50


@pytest.mark.parametrize("source", ["tone_wav", "tone_mp3"])
async def test_upload_is_stored_as_8khz_16bit_mono_wav(api, source, request):
    audio = request.getfixturevalue(source)
    box = await api.client.create_box("3000")
    await create_with_audio(api, box["id"], audio, caller_id_number="6001")
    with wave.open(str(stored_wav(api.data_dir)), "rb") as wav:
        assert wav.getframerate() == 8000
        assert wav.getsampwidth() == 2
        assert wav.getnchannels() == 1
        assert abs(wav.getnframes() / 8000 - 3.0) <= 0.05
    assert tmp_files(api.data_dir) == []


@pytest.mark.parametrize("seconds", [1.5, 3, 7.25])
async def test_length_is_the_audio_duration_in_ms(api, tmp_path, seconds):
    box = await api.client.create_box("3000")
    message = await create_with_audio(
        api, box["id"], make_tone(tmp_path, seconds), caller_id_number="6001"
    )
    assert abs(message["length"] - seconds * 1000) <= 50


async def test_length_sent_in_metadata_is_overridden_by_the_audio(api, tone_mp3):
    box = await api.client.create_box("3000")
    message = await create_with_audio(
        api, box["id"], tone_mp3, caller_id_number="6001", length=99999
    )
    assert abs(message["length"] - 3000) <= 50


# --- downloading one message ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extension, content_type, format_name",
    [
        (None, "audio/mpeg", "mp3"),
        ("mp3", "audio/mpeg", "mp3"),
        ("mp4", "audio/mp4", "mp4"),
        ("wav", "audio/x-wav", "wav"),
    ],
)
async def test_raw_download_is_encoded_in_the_box_media_extension(
    api, tone_mp3, tmp_path, extension, content_type, format_name
):
    fields = {} if extension is None else {"media_extension": extension}
    box = await api.client.create_box("3000", **fields)
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == content_type
    assert download_filename(reply).endswith(f".{extension or 'mp3'}")
    info = probe(reply.body, tmp_path, f".{extension or 'mp3'}")
    assert format_name in info["format"].split(",")
    assert abs(info["duration"] - 3.0) <= DURATION_SLACK_S


async def test_wav_download_is_the_stored_8khz_mono_audio(api, tone_wav, tmp_path):
    box = await api.client.create_box("3000", media_extension="wav")
    message = await create_with_audio(api, box["id"], tone_wav, caller_id_number="6001")
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    info = probe(reply.body, tmp_path, ".wav")
    assert (info["sample_rate"], info["channels"]) == (8000, 1)


async def test_download_filename_is_caller_number_and_time_in_box_timezone(api, tone_mp3):
    zone = "America/Los_Angeles"
    box = await api.client.create_box("3000", timezone=zone)
    when = a_day_ago()
    message = await create_with_audio(
        api, box["id"], tone_mp3, caller_id_number="6001", timestamp=when
    )
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert download_filename(reply) == f"6001_{stamp(when, zone)}.mp3"
    # Not the UTC time: the box's zone is what the owner reads.
    assert stamp(when, zone) != stamp(when, "UTC")


@pytest.mark.parametrize("own", [None, "inherit"])
async def test_download_names_inherit_the_owner_s_timezone_then_the_default(api, tone_mp3, own):
    """As KAZOO: the box's zone, else its owner's, else America/Los_Angeles (KAZOO's default)."""
    fields = {"timezone": own} if own else {}
    box = await api.client.create_box("3000", media_extension="wav", **fields)
    user = await api.client.put(
        "/users", {"data": {"first_name": "A", "last_name": "B", "timezone": "Asia/Tokyo"}}
    )
    owned = await api.client.create_box(
        "3001", media_extension="wav", owner_id=user.data["id"], **fields
    )
    when = a_day_ago()
    for target, zone in ((box, "America/Los_Angeles"), (owned, "Asia/Tokyo")):
        message = await create_with_audio(
            api, target["id"], tone_mp3, caller_id_number="6001", timestamp=when
        )
        reply = await api.client.get(f"/vmboxes/{target['id']}/messages/{message['media_id']}/raw")
        assert download_filename(reply) == f"6001_{stamp(when, zone)}.wav"


async def test_download_filename_follows_a_timezone_east_of_utc(api, tone_mp3):
    zone = "Asia/Tokyo"
    box = await api.client.create_box("3000", timezone=zone, media_extension="wav")
    when = a_day_ago()
    message = await create_with_audio(
        api, box["id"], tone_mp3, caller_id_number="+4930123", timestamp=when
    )
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert download_filename(reply) == f"+4930123_{stamp(when, zone)}.wav"


async def test_download_filename_of_an_empty_caller_number_is_kazoo_s_anonymous(api, tone_mp3):
    # KAZOO gives an empty caller_id_number its default, `anonymous`, and names the download after it.
    box = await api.client.create_box("3000", timezone="Europe/Paris")
    when = a_day_ago()
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="", timestamp=when)
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert download_filename(reply) == f"anonymous_{stamp(when, 'Europe/Paris')}.mp3"


async def test_download_filename_uses_the_default_caller_number_when_none_was_sent(api, tone_mp3):
    box = await api.client.create_box("3000")
    message = await create_with_audio(api, box["id"], tone_mp3)
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert message["caller_id_number"]
    assert download_filename(reply).startswith(f"{message['caller_id_number']}_")


@pytest.mark.parametrize(
    "number",
    [
        '6001"; filename="evil.sh',
        "6001\r\nX-Injected: yes",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "/abs/path",
        "...",
        "a/../../b\x01c",  # (a NUL is refused at the door: test_api_bad_input)
    ],
)
async def test_download_filename_is_safe_whatever_the_caller_number(api, tone_mp3, number):
    box = await api.client.create_box("3000")
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number=number)
    assert message["caller_id_number"] == number
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 200
    assert "X-Injected" not in reply.headers
    name = download_filename(reply)
    assert SAFE_NAME.fullmatch(name), name
    assert name.endswith(".mp3") and "evil.sh" != name


@pytest.mark.parametrize("number", ["///", "...", '"\r\n"'])
async def test_download_filename_is_unknown_when_nothing_of_the_caller_number_is_safe(
    api, tone_mp3, number
):
    box = await api.client.create_box("3000", timezone="Europe/Paris")
    when = a_day_ago()
    message = await create_with_audio(
        api, box["id"], tone_mp3, caller_id_number=number, timestamp=when
    )
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert download_filename(reply) == f"unknown_{stamp(when, 'Europe/Paris')}.mp3"


async def test_raw_of_a_message_without_audio_is_404(api):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 404
    assert reply.body["status"] == "error"
    assert reply.body["data"]["cause"] == message["media_id"]


# --- attaching and replacing audio (PUT …/raw) ----------------------------------------------------------


async def test_put_raw_multipart_attaches_audio_to_a_metadata_only_message(api, tone_mp3, tmp_path):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    assert message["length"] == 1
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=audio_only_multipart(tone_mp3.read_bytes())
    )
    assert reply.status == 200, reply.body
    assert reply.data["media_id"] == message["media_id"]
    assert abs(reply.data["length"] - 3000) <= 50
    assert abs((await api.client.get(path)).data["length"] - 3000) <= 50
    download = await api.client.get(f"{path}/raw")
    assert download.status == 200
    assert abs(probe(download.body, tmp_path, ".mp3")["duration"] - 3.0) <= DURATION_SLACK_S


async def test_put_raw_accepts_the_audio_as_the_request_body(api, tone_mp3):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    reply = await api.client.call(
        "PUT", f"{path}/raw", data=tone_mp3.read_bytes(), headers={"Content-Type": "audio/mpeg"}
    )
    assert reply.status == 200, reply.body
    assert abs(reply.data["length"] - 3000) <= 50
    assert (await api.client.get(f"{path}/raw")).status == 200
    assert len(media_files(api.data_dir)) == 1


async def test_put_raw_with_form_data_attaches_audio(api, tmp_path):
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], caller_id_number="6001")
    form = aiohttp.FormData()
    form.add_field(
        "file", make_tone(tmp_path, 2).read_bytes(), content_type="audio/wav", filename="v.wav"
    )
    reply = await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw", data=form
    )
    assert reply.status == 200, reply.body
    assert abs(reply.data["length"] - 2000) <= 50


async def test_put_raw_again_replaces_the_audio_and_removes_the_old_file(api, tmp_path):
    box = await api.client.create_box("3000")
    message = await create_with_audio(
        api, box["id"], make_tone(tmp_path, 2), caller_id_number="6001"
    )
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    before = media_files(api.data_dir)
    assert len(before) == 1
    reply = await api.client.call(
        "PUT",
        f"{path}/raw",
        data=make_tone(tmp_path, 5).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert reply.status == 200, reply.body
    after = media_files(api.data_dir)
    assert len(after) == 1 and after.isdisjoint(before)
    assert abs(reply.data["length"] - 5000) <= 50
    with wave.open(str(stored_wav(api.data_dir)), "rb") as wav:
        assert abs(wav.getnframes() / wav.getframerate() - 5.0) <= 0.05
    assert tmp_files(api.data_dir) == []


async def test_put_raw_changes_the_revision(api, tone_mp3, tmp_path):
    box = await api.client.create_box("3000")
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    path = f"/vmboxes/{box['id']}/messages/{message['media_id']}"
    first = (await api.client.get(path)).body["revision"]
    reply = await api.client.call(
        "PUT",
        f"{path}/raw",
        data=make_tone(tmp_path, 1).read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert reply.status == 200
    assert reply.body["revision"] != first
    assert (await api.client.get(path)).body["revision"] == reply.body["revision"]


# --- several messages as a ZIP (POST …/messages/raw) ----------------------------------------------------


async def post_zip(api, box_id: str, ids: list[str]):
    return await api.client.post(
        f"/vmboxes/{box_id}/messages/raw",
        {"data": {"messages": ids}},
        headers={"Accept": "application/zip"},
    )


async def test_zip_holds_each_message_named_as_its_single_download(api, tone_mp3, tmp_path):
    box = await api.client.create_box("3000", timezone="America/New_York")
    first = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    second = await create_with_audio(
        api, box["id"], make_tone(tmp_path, 1), caller_id_number="6002"
    )
    singles = {}
    for message in (first, second):
        single = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
        singles[download_filename(single)] = message["length"]
    reply = await post_zip(api, box["id"], [first["media_id"], second["media_id"]])
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        assert archive.testzip() is None
        assert set(archive.namelist()) == set(singles)
        for name, length in singles.items():
            info = probe(archive.read(name), tmp_path, ".mp3")
            assert info["format"] == "mp3"
            assert abs(info["duration"] * 1000 - length) <= DURATION_SLACK_S * 1000


async def test_zip_is_named_after_the_request_id(api, tone_mp3):
    box = await api.client.create_box("3000")
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    reply = await post_zip(api, box["id"], [message["media_id"]])
    assert reply.status == 200
    assert download_filename(reply) == f"{reply.headers['X-Request-ID']}.zip"


async def test_zip_entries_use_the_box_media_extension(api, tone_mp3, tmp_path):
    box = await api.client.create_box("3000", media_extension="wav")
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    reply = await post_zip(api, box["id"], [message["media_id"]])
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        (name,) = archive.namelist()
        assert name.endswith(".wav")
        assert probe(archive.read(name), tmp_path, ".wav")["format"] == "wav"


async def test_zip_gives_distinct_names_to_messages_that_would_collide(api, tone_mp3, tmp_path):
    box = await api.client.create_box("3000")
    when = a_day_ago()
    ids = [
        (
            await create_with_audio(
                api, box["id"], tone_mp3, caller_id_number="6001", timestamp=when
            )
        )["media_id"],
        (
            await create_with_audio(
                api, box["id"], make_tone(tmp_path, 1), caller_id_number="6001", timestamp=when
            )
        )["media_id"],
    ]
    reply = await post_zip(api, box["id"], ids)
    assert reply.status == 200
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)) == 2
        assert all(name.startswith("6001_") and name.endswith(".mp3") for name in names)
        durations = sorted(
            round(probe(archive.read(name), tmp_path, ".mp3")["duration"]) for name in names
        )
    assert durations == [1, 3]


async def test_zip_with_one_unknown_id_fails_the_whole_request_with_404(api, tone_mp3):
    box = await api.client.create_box("3000")
    message = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    unknown = "202001-" + "0" * 32
    reply = await post_zip(api, box["id"], [message["media_id"], unknown])
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body["status"] == "error"
    assert reply.body["message"] == "bad_identifier"
    assert reply.body["data"]["cause"] == unknown


async def test_zip_with_a_message_without_audio_fails_the_whole_request(api, tone_mp3):
    box = await api.client.create_box("3000")
    with_audio = await create_with_audio(api, box["id"], tone_mp3, caller_id_number="6001")
    without = await api.client.create_message(box["id"], caller_id_number="6002")
    reply = await post_zip(api, box["id"], [with_audio["media_id"], without["media_id"]])
    assert reply.status == 404
    assert reply.body["data"]["cause"] == without["media_id"]


async def test_zip_of_another_box_message_is_404(api, tone_mp3):
    box = await api.client.create_box("3000")
    other_box = await api.client.create_box("3001")
    message = await create_with_audio(api, other_box["id"], tone_mp3, caller_id_number="6001")
    reply = await post_zip(api, box["id"], [message["media_id"]])
    assert reply.status == 404
    assert reply.body["data"]["cause"] == message["media_id"]


async def test_zip_without_a_message_list_is_400(api):
    box = await api.client.create_box("3000")
    reply = await post_zip(api, box["id"], [])
    assert reply.status == 400
    assert "required" in reply.body["data"]["messages"]


async def test_zip_entry_names_are_safe_whatever_the_caller_number(api, tone_mp3):
    box = await api.client.create_box("3000")
    ids = [
        (await create_with_audio(api, box["id"], tone_mp3, caller_id_number=number))["media_id"]
        for number in ("../../../etc/cron.d/x", "/root/.ssh/authorized_keys")
    ]
    reply = await post_zip(api, box["id"], ids)
    assert reply.status == 200
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        names = archive.namelist()
    assert len(names) == 2
    assert all(SAFE_NAME.fullmatch(name) for name in names), names
