"""Media objects (greetings, names) through the REST API: metadata, audio upload and download, revisions,
deletion, isolation, bad input; and the store functions the IVR uses for greetings recorded by phone.

Black-box where possible: a real server with a small upload limit, real SQLite, real files made by sox and
ffmpeg, what is left on disk read from the data directory.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.multipart import parse_content_disposition

from store.api.options import ApiOptions
from store.core import ORPHAN_AGE_S, open_store
from store.errors import Invalid, NotFound
from store.greetings import attach_media_audio, create_greeting, get_media, media_audio_file
from tests.conftest import make_tone, media_files, probe, tmp_files

UPLOAD_LIMIT = 200_000
UNKNOWN_MEDIA = "0123456789abcdef0123456789abcdef"
SAFE_NAME = re.compile(r"[A-Za-z0-9+_-][A-Za-z0-9+._-]*")
DURATION_SLACK_S = 0.2


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(max_upload_bytes=UPLOAD_LIMIT)


@pytest.fixture
def short_tone(tmp_path: Path) -> Path:
    """1 s of tone, 8 kHz mono: well under the upload limit."""
    return make_tone(tmp_path, 1)


@pytest.fixture
def two_seconds(tmp_path: Path) -> Path:
    return make_tone(tmp_path, 2)


@pytest.fixture
def three_seconds(tmp_path: Path) -> Path:
    return make_tone(tmp_path, 3)


def multipart(
    metadata: object | None, audio: bytes | None, audio_type: str = "audio/wav"
) -> aiohttp.MultipartWriter:
    """multipart/mixed as curl -F sends it: a JSON part and an audio part, both named `content`."""
    writer = aiohttp.MultipartWriter("mixed")
    if metadata is not None:
        part = writer.append(json.dumps(metadata).encode(), {"Content-Type": "application/json"})
        part.set_content_disposition("form-data", name="content", filename="media.json")
    if audio is not None:
        part = writer.append(audio, {"Content-Type": audio_type})
        part.set_content_disposition("form-data", name="content", filename="greeting.wav")
    return writer


async def create(api, **fields) -> dict:
    reply = await api.client.put("/media", {"data": {"name": "Greeting", **fields}})
    assert reply.status == 201, reply.body
    return reply.data


async def create_with_audio(api, audio: Path, **fields) -> dict:
    reply = await api.client.call(
        "PUT",
        "/media",
        data=multipart({"data": {"name": "Greeting", **fields}}, audio.read_bytes()),
    )
    assert reply.status == 201, reply.body
    return reply.data


async def put_raw(client, media_id: str, audio: bytes, content_type: str = "audio/wav"):
    return await client.call(
        "PUT", f"/media/{media_id}/raw", data=audio, headers={"Content-Type": content_type}
    )


def assert_error(reply, status: int, message: str | None = None) -> object:
    assert reply.status == status, reply.body
    assert reply.body["status"] == "error"
    assert reply.body["error"] == str(status)
    if message is not None:
        assert reply.body["message"] == message
    return reply.data


def download_filename(reply) -> str:
    kind, params = parse_content_disposition(reply.headers["Content-Disposition"])
    assert kind == "attachment"
    return params["filename"]


def nothing_left(data_dir: Path, files: set[str]) -> bool:
    """Exactly `files` are stored and nothing is left in tmp."""
    return media_files(data_dir) == files and tmp_files(data_dir) == []


# --- metadata -------------------------------------------------------------------------------------------


async def test_create_answers_201_with_defaults_an_id_and_a_revision(api):
    reply = await api.client.put("/media", {"data": {"name": "Main greeting"}})
    assert reply.status == 201, reply.body
    assert re.fullmatch(r"[0-9a-f]{32}", reply.data["id"])
    assert reply.data == {
        "name": "Main greeting",
        "media_source": "upload",
        "language": "en-us",
        "id": reply.data["id"],
    }
    assert reply.body["revision"].startswith("1-")


async def test_fetch_returns_the_document(api):
    media = await create(api, description="Played when I am out", language="fr-fr", custom={"a": 1})
    reply = await api.client.get(f"/media/{media['id']}")
    assert reply.status == 200
    assert reply.data == media
    assert reply.data["custom"] == {"a": 1}


async def test_server_keys_in_the_document_are_ignored(api):
    media = await create(api, id=UNKNOWN_MEDIA, length=99999)
    assert media["id"] != UNKNOWN_MEDIA
    assert "length" not in media


@pytest.mark.parametrize(
    "data, field, rule",
    [
        ({}, "name", "required"),
        ({"name": ""}, "name", "minLength"),
        ({"name": "x" * 129}, "name", "maxLength"),
        ({"name": "G", "media_source": "tts"}, "media_source", "enum"),
        ({"name": "G", "language": 7}, "language", "type"),
        ({"name": "G", "description": ["x"]}, "description", "type"),
    ],
)
async def test_invalid_metadata_is_400_on_its_field(api, data, field, rule):
    reply = await api.client.put("/media", {"data": data})
    errors = assert_error(reply, 400, "validation error")
    assert list(errors) == [field]
    assert rule in errors[field]
    assert (await api.client.get("/media")).data == []


async def test_list_pages_through_every_media_object_once(api):
    made = {(await create(api, name=f"G{n}"))["id"] for n in range(5)}
    seen, start = [], None
    for _ in range(5):
        reply = await api.client.get(
            "/media?page_size=2" + (f"&start_key={start}" if start else "")
        )
        assert reply.status == 200, reply.body
        seen += [item["id"] for item in reply.data]
        start = reply.body.get("next_start_key")
        if start is None:
            break
    assert seen == sorted(made)
    assert len((await api.client.get("/media?paginate=false")).data) == 5


async def test_list_shows_only_ones_own_media(api):
    mine = await create(api)
    await api.other.put("/media", {"data": {"name": "Theirs"}})
    assert (await api.client.get("/media")).data == [mine]


async def test_replace_keeps_the_audio_and_its_length(api, short_tone):
    media = await create_with_audio(api, short_tone)
    reply = await api.client.post(f"/media/{media['id']}", {"data": {"name": "Renamed"}})
    assert reply.status == 200, reply.body
    assert reply.data["name"] == "Renamed"
    assert reply.data["length"] == media["length"]
    assert "description" not in reply.data
    assert reply.body["revision"].startswith("2-")
    assert (await api.client.get(f"/media/{media['id']}/raw")).status == 200


async def test_patch_merges_and_validates(api):
    media = await create(api, description="old")
    reply = await api.client.patch(
        f"/media/{media['id']}", {"data": {"description": None, "language": "de-de"}}
    )
    assert reply.status == 200, reply.body
    assert reply.data == {
        "name": "Greeting",
        "media_source": "upload",
        "language": "de-de",
        "id": media["id"],
    }
    bad = await api.client.patch(f"/media/{media['id']}", {"data": {"name": None}})
    assert "required" in assert_error(bad, 400)["name"]


async def test_a_stale_revision_is_409_on_replace_patch_and_delete(api):
    created = await api.client.put("/media", {"data": {"name": "G"}})
    path = f"/media/{created.data['id']}"
    assert (await api.client.patch(path, {"data": {"name": "H"}})).status == 200
    stale = created.body["revision"]
    assert_error(await api.client.post(path, {"data": {"name": "I"}, "revision": stale}), 409)
    assert_error(await api.client.patch(path, {"data": {"name": "I"}, "revision": stale}), 409)
    assert_error(await api.client.delete(path, {"data": {}, "revision": stale}), 409)
    assert (await api.client.get(path)).data["name"] == "H"


@pytest.mark.parametrize("revision", ["²-x", "٣-x", "x"])
async def test_a_revision_that_is_no_number_is_stale_not_a_server_error(api, revision):
    """ "²" and "٣" count as digits to str.isdigit(), but only ASCII digits make a revision number."""
    created = await api.client.put("/media", {"data": {"name": "G"}})
    path = f"/media/{created.data['id']}"
    assert_error(await api.client.post(path, {"data": {"name": "I"}, "revision": revision}), 409)
    if revision.isascii() or revision.startswith("²"):  # what a header can carry (Latin-1)
        headers = {"If-Match": revision}
        assert_error(await api.client.patch(path, {"data": {"name": "I"}}, headers=headers), 409)


# --- audio: create with audio, upload, download ---------------------------------------------------------


async def test_multipart_create_stores_8khz_mono_wav_and_the_length(api, tone_mp3, tmp_path):
    media = await create_with_audio(api, tone_mp3)
    assert abs(media["length"] - 3000) <= 50
    (stored,) = media_files(api.data_dir)
    info = probe((api.data_dir / "media" / stored).read_bytes(), tmp_path, ".wav")
    assert (info["sample_rate"], info["channels"]) == (8000, 1)


async def test_form_data_create_takes_metadata_and_audio(api, short_tone):
    form = aiohttp.FormData()
    form.add_field(
        "metadata",
        json.dumps({"data": {"name": "Name", "media_source": "recording"}}),
        content_type="application/json",
    )
    form.add_field("file", short_tone.read_bytes(), content_type="audio/wav", filename="name.wav")
    reply = await api.client.call("PUT", "/media", data=form)
    assert reply.status == 201, reply.body
    assert reply.data["media_source"] == "recording"
    assert abs(reply.data["length"] - 1000) <= 50


async def test_download_is_wav_by_default(api, three_seconds, tmp_path):
    media = await create_with_audio(api, three_seconds)
    reply = await api.client.get(f"/media/{media['id']}/raw")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "audio/x-wav"
    info = probe(reply.body, tmp_path, ".wav")
    assert (info["format"], info["sample_rate"], info["channels"]) == ("wav", 8000, 1)
    assert abs(info["duration"] - 3.0) <= DURATION_SLACK_S


@pytest.mark.parametrize(
    "extension, content_type, format_name",
    [
        ("mp3", "audio/mpeg", "mp3"),
        ("mp4", "audio/mp4", "mov,mp4,m4a,3gp,3g2,mj2"),
        ("wav", "audio/x-wav", "wav"),
    ],
)
async def test_download_in_the_requested_format(
    api, three_seconds, tmp_path, extension, content_type, format_name
):
    media = await create_with_audio(api, three_seconds)
    reply = await api.client.get(f"/media/{media['id']}/raw?format={extension}")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == content_type
    info = probe(reply.body, tmp_path, f".{extension}")
    assert info["format"] == format_name
    assert abs(info["duration"] - 3.0) <= DURATION_SLACK_S
    assert download_filename(reply) == f"Greeting.{extension}"


async def test_an_unknown_download_format_is_400(api, short_tone):
    media = await create_with_audio(api, short_tone)
    errors = assert_error(await api.client.get(f"/media/{media['id']}/raw?format=ogg"), 400)
    assert "enum" in errors["format"]


async def test_download_filename_is_the_media_name_with_underscores(api, short_tone):
    media = await create_with_audio(api, short_tone, name="My main greeting")
    reply = await api.client.get(f"/media/{media['id']}/raw")
    assert download_filename(reply) == "My_main_greeting.wav"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", 'a"b\\c', "semi;colon=x", "..hidden", "Grüße!", "x" * 128]
)
async def test_download_filename_is_safe_whatever_the_name(api, short_tone, name):
    media = await create_with_audio(api, short_tone, name=name)
    reply = await api.client.get(f"/media/{media['id']}/raw?format=wav")
    filename = download_filename(reply)
    assert SAFE_NAME.fullmatch(filename), filename
    assert filename.endswith(".wav") and len(filename) <= 68


@pytest.mark.parametrize("name", ["...", "éèà", "\"'/"])
async def test_download_filename_is_media_when_nothing_of_the_name_is_safe(api, short_tone, name):
    media = await create_with_audio(api, short_tone, name=name)
    reply = await api.client.get(f"/media/{media['id']}/raw")
    assert download_filename(reply) == "media.wav"


async def test_download_without_audio_is_404(api):
    media = await create(api)
    data = assert_error(await api.client.get(f"/media/{media['id']}/raw"), 404)
    assert data["cause"] == media["id"]


async def test_put_raw_body_attaches_audio_and_bumps_the_revision(api, short_tone):
    created = await api.client.put("/media", {"data": {"name": "G"}})
    reply = await put_raw(api.client, created.data["id"], short_tone.read_bytes())
    assert reply.status == 200, reply.body
    assert abs(reply.data["length"] - 1000) <= 50
    assert reply.body["revision"].startswith("2-")
    assert len(media_files(api.data_dir)) == 1
    assert (await api.client.get(f"/media/{created.data['id']}/raw")).status == 200


@pytest.mark.parametrize("kind", ["mixed", "form-data"])
async def test_put_raw_multipart_attaches_audio(api, tone_mp3, kind):
    media = await create(api)
    if kind == "mixed":
        body = multipart(None, tone_mp3.read_bytes(), "audio/mpeg")
    else:
        body = aiohttp.FormData()
        body.add_field("file", tone_mp3.read_bytes(), content_type="audio/mpeg", filename="g.mp3")
    reply = await api.client.call("PUT", f"/media/{media['id']}/raw", data=body)
    assert reply.status == 200, reply.body
    assert abs(reply.data["length"] - 3000) <= 50


async def test_put_raw_again_replaces_the_audio_and_removes_the_old_file(
    api, short_tone, two_seconds
):
    media = await create_with_audio(api, short_tone)
    before = media_files(api.data_dir)
    reply = await put_raw(api.client, media["id"], two_seconds.read_bytes())
    assert reply.status == 200
    after = media_files(api.data_dir)
    assert len(after) == 1 and after != before
    assert abs(reply.data["length"] - 2000) <= 50
    assert (await api.client.get(f"/media/{media['id']}")).data["length"] == reply.data["length"]


# --- bad audio and failures leave nothing behind --------------------------------------------------------


async def test_put_raw_of_non_audio_is_400_file_and_keeps_the_old_audio(api, short_tone):
    media = await create_with_audio(api, short_tone)
    files = media_files(api.data_dir)
    old = (await api.client.get(f"/media/{media['id']}/raw")).body
    reply = await put_raw(api.client, media["id"], b"this is not audio\n" * 200, "audio/mpeg")
    errors = assert_error(reply, 400, "validation error")
    assert "format" in errors["file"]
    assert nothing_left(api.data_dir, files)
    assert (await api.client.get(f"/media/{media['id']}/raw")).body == old


async def test_put_raw_empty_is_400_file_required(api):
    media = await create(api)
    errors = assert_error(await put_raw(api.client, media["id"], b""), 400)
    assert "required" in errors["file"]
    assert nothing_left(api.data_dir, set())


async def test_put_raw_with_a_non_audio_content_type_is_415(api, short_tone):
    media = await create(api)
    assert_error(await put_raw(api.client, media["id"], short_tone.read_bytes(), "text/plain"), 415)
    assert nothing_left(api.data_dir, set())


async def test_put_raw_over_the_upload_limit_is_413_and_keeps_the_old_audio(
    api, short_tone, tone_wav
):
    media = await create_with_audio(api, short_tone)
    files = media_files(api.data_dir)
    big = tone_wav.read_bytes()
    assert len(big) > UPLOAD_LIMIT
    assert_error(await put_raw(api.client, media["id"], big), 413)
    assert nothing_left(api.data_dir, files)
    assert (await api.client.get(f"/media/{media['id']}")).data["length"] == media["length"]


async def test_create_over_the_upload_limit_is_413_and_stores_nothing(api, tone_wav):
    reply = await api.client.call(
        "PUT", "/media", data=multipart({"data": {"name": "G"}}, tone_wav.read_bytes())
    )
    assert_error(reply, 413)
    assert (await api.client.get("/media")).data == []
    assert nothing_left(api.data_dir, set())


async def test_create_with_non_audio_is_400_file_and_stores_nothing(api):
    reply = await api.client.call(
        "PUT", "/media", data=multipart({"data": {"name": "G"}}, b"\x00\x01" * 3000)
    )
    errors = assert_error(reply, 400, "validation error")
    assert list(errors) == ["file"]
    assert (await api.client.get("/media")).data == []
    assert nothing_left(api.data_dir, set())


@pytest.mark.parametrize(
    "metadata", [{"data": {"media_source": "tts", "name": "G"}}, {"data": {}}, None]
)
async def test_create_with_audio_and_invalid_metadata_stores_nothing(api, short_tone, metadata):
    reply = await api.client.call(
        "PUT", "/media", data=multipart(metadata, short_tone.read_bytes())
    )
    assert_error(reply, 400, "validation error")
    assert (await api.client.get("/media")).data == []
    assert nothing_left(api.data_dir, set())


async def test_put_raw_to_an_unknown_media_object_is_404_and_stores_nothing(api, short_tone):
    data = assert_error(
        await put_raw(api.client, UNKNOWN_MEDIA, short_tone.read_bytes()), 404, "bad_identifier"
    )
    assert data["cause"] == UNKNOWN_MEDIA
    assert nothing_left(api.data_dir, set())


# --- delete ---------------------------------------------------------------------------------------------


async def test_delete_removes_the_object_and_its_audio_file(api, short_tone):
    media = await create_with_audio(api, short_tone)
    assert len(media_files(api.data_dir)) == 1
    reply = await api.client.delete(f"/media/{media['id']}")
    assert reply.status == 200
    assert reply.data == media
    assert media_files(api.data_dir) == set()
    assert_error(await api.client.get(f"/media/{media['id']}"), 404, "bad_identifier")
    assert_error(await api.client.get(f"/media/{media['id']}/raw"), 404, "bad_identifier")
    assert_error(await api.client.delete(f"/media/{media['id']}"), 404, "bad_identifier")


async def test_deleting_a_greeting_a_box_uses_is_allowed_and_the_box_falls_back(api, short_tone):
    media = await create_with_audio(api, short_tone)
    box = await api.client.create_box("3000", media={"unavailable": media["id"]})
    assert await media_audio_file(api.store.db, api.client.account_id, media["id"]) is not None
    assert (await api.client.delete(f"/media/{media['id']}")).status == 200
    fetched = await api.client.get(f"/vmboxes/{box['id']}")
    assert fetched.status == 200
    assert fetched.data["media"] == {"unavailable": media["id"]}
    assert await media_audio_file(api.store.db, api.client.account_id, media["id"]) is None


# --- the box's media references ---------------------------------------------------------------------------


async def test_a_box_names_its_greetings_and_name_recording_by_media_id(api):
    ids = [(await create(api, name=name))["id"] for name in ("unavailable", "temporary", "name")]
    media = {"unavailable": ids[0], "temporary_unavailable": ids[1], "name": ids[2]}
    box = await api.client.create_box("3000", media=media)
    assert (await api.client.get(f"/vmboxes/{box['id']}")).data["media"] == media


@pytest.mark.parametrize(
    "key, value, rule",
    [
        ("temporary_unavailable", "abc", "minLength"),
        ("temporary_unavailable", "a" * 33, "maxLength"),
        ("name", "abc", "minLength"),
        ("name", 42, "type"),
    ],
)
async def test_a_box_media_reference_must_be_a_32_character_id(api, key, value, rule):
    reply = await api.client.put(
        "/vmboxes", {"data": {"name": "B", "mailbox": "3000", "media": {key: value}}}
    )
    errors = assert_error(reply, 400, "validation error")
    assert rule in errors[f"media.{key}"]


# --- ids and accounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, suffix", [("GET", ""), ("POST", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/raw")]
)
@pytest.mark.parametrize(
    "ident", [UNKNOWN_MEDIA, "nope", UNKNOWN_MEDIA.upper(), UNKNOWN_MEDIA[:-1]]
)
async def test_an_unknown_or_malformed_media_id_is_404_bad_identifier(api, method, suffix, ident):
    body = {"data": {"name": "G"}} if method in ("POST", "PATCH") else None
    data = assert_error(
        await api.client.call(method, f"/media/{ident}{suffix}", json_body=body),
        404,
        "bad_identifier",
    )
    assert data["cause"] == ident


async def test_another_accounts_media_path_is_403(api):
    assert_error(await api.other.get(f"/v2/accounts/{api.client.account_id}/media"), 403)


@pytest.mark.parametrize(
    "method, suffix", [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/raw")]
)
async def test_another_accounts_media_under_ones_own_path_is_404_and_untouched(
    api, short_tone, method, suffix
):
    media = await create_with_audio(api, short_tone)
    body = {"data": {"name": "Hijacked"}} if method == "PATCH" else None
    assert_error(
        await api.other.call(method, f"/media/{media['id']}{suffix}", json_body=body),
        404,
        "bad_identifier",
    )
    assert (await api.client.get(f"/media/{media['id']}")).data == media
    assert len(media_files(api.data_dir)) == 1


async def test_put_raw_on_another_accounts_media_is_404_and_stores_nothing(
    api, short_tone, two_seconds
):
    media = await create_with_audio(api, short_tone)
    files = media_files(api.data_dir)
    assert_error(
        await put_raw(api.other, media["id"], two_seconds.read_bytes()), 404, "bad_identifier"
    )
    assert nothing_left(api.data_dir, files)
    assert (await api.client.get(f"/media/{media['id']}")).data == media


# --- greetings recorded by phone (the store functions the IVR calls) ------------------------------------


async def stored(api, tone: Path, tmp_path: Path):
    """A tone put into the store as the IVR does with a recording: normalised and installed."""
    upload = tmp_path / f"recording-{len(list(tmp_path.iterdir()))}.wav"
    shutil.copyfile(tone, upload)
    return await api.store.media.store(upload, api.client.account_id)


async def test_a_greeting_recorded_by_phone_is_a_media_object_with_its_audio(
    api, short_tone, tmp_path
):
    audio = await stored(api, short_tone, tmp_path)
    media_id = await create_greeting(
        api.store, api.client.account_id, "Unavailable greeting", audio
    )
    assert await media_audio_file(api.store.db, api.client.account_id, media_id) == audio.file
    reply = await api.client.get(f"/media/{media_id}")
    assert reply.data == {
        "name": "Unavailable greeting",
        "media_source": "recording",
        "language": "en-us",
        "length": audio.length_ms,
        "id": media_id,
    }
    assert (await api.client.get(f"/media/{media_id}/raw")).status == 200


async def test_a_greeting_that_cannot_be_kept_leaves_no_file(api, short_tone, tmp_path):
    audio = await stored(api, short_tone, tmp_path)
    with pytest.raises(Invalid):
        await create_greeting(api.store, api.client.account_id, "x" * 129, audio)
    assert nothing_left(api.data_dir, set())


async def test_media_audio_file_is_none_for_another_account_or_no_audio(api, short_tone, tmp_path):
    audio = await stored(api, short_tone, tmp_path)
    media_id = await create_greeting(
        api.store, api.client.account_id, "Name", audio, source="recording"
    )
    assert await media_audio_file(api.store.db, api.other.account_id, media_id) is None
    empty = await create(api)
    assert await media_audio_file(api.store.db, api.client.account_id, empty["id"]) is None
    assert await media_audio_file(api.store.db, api.client.account_id, UNKNOWN_MEDIA) is None


async def test_attaching_audio_to_a_deleted_media_object_discards_the_new_file(
    api, short_tone, tmp_path
):
    media = await create(api)
    assert (await api.client.delete(f"/media/{media['id']}")).status == 200
    audio = await stored(api, short_tone, tmp_path)
    with pytest.raises(NotFound):
        await attach_media_audio(api.store, api.client.account_id, media["id"], audio)
    assert nothing_left(api.data_dir, set())


async def test_attaching_audio_replaces_the_old_file_after_the_commit(
    api, short_tone, two_seconds, tmp_path
):
    first = await stored(api, short_tone, tmp_path)
    media_id = await create_greeting(api.store, api.client.account_id, "Greeting", first)
    second = await stored(api, two_seconds, tmp_path)
    media = await attach_media_audio(api.store, api.client.account_id, media_id, second)
    assert (
        media.media_file == second.file
        and media.doc["length"] == second.length_ms
        and media.rev == 2
    )
    assert media_files(api.data_dir) == {second.file}
    assert (await get_media(api.store.db, api.client.account_id, media_id)) == media


async def test_restart_keeps_media_audio_and_removes_orphans(api, short_tone):
    media = await create_with_audio(api, short_tone)
    kept = media_files(api.data_dir)
    orphan = api.data_dir / "media" / api.client.account_id / f"{'ab' * 16}.wav"
    orphan.write_bytes(short_tone.read_bytes())
    os.utime(orphan, (time.time() - 2 * ORPHAN_AGE_S,) * 2)  # long left, on every store
    restarted = await open_store(api.data_dir, retention_days=93, url=api.store_url)
    try:
        assert media_files(api.data_dir) == kept
        assert not orphan.exists()
    finally:
        await restarted.db.close()
    assert (await api.client.get(f"/media/{media['id']}/raw")).status == 200


async def test_the_openapi_document_describes_media_and_users(api):
    document = (await api.client.get("/v2/openapi.json", token="")).body
    raw = document["paths"]["/v2/accounts/{account_id}/media/{media_id}/raw"]
    assert [p["name"] for p in raw["get"]["parameters"] if p["in"] == "query"] == ["format"]
    create = document["paths"]["/v2/accounts/{account_id}/media"]["put"]["requestBody"]["content"]
    assert create["application/json"]["schema"] == {"$ref": "#/components/schemas/MediaEnvelope"}
    assert "multipart/form-data" in create
    assert document["components"]["schemas"]["Media"]["required"] == ["name"]
    assert "endpoints" in document["components"]["schemas"]["User"]["properties"]
