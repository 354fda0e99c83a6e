"""Range requests on every audio download: the Range header read as a table, then the message,
media and greeting downloads answering them over HTTP."""

import pytest

from store.api.ranges import Unsatisfiable, byte_range
from tests.conftest import make_tone


@pytest.mark.parametrize(
    "header, size, expected",
    [
        (None, 100, None),
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-500", 100, (0, 99)),  # a suffix longer than the audio is all of it
        ("bytes=90-200", 100, (90, 99)),  # cut at the end
        ("bytes=99-99", 100, (99, 99)),
        ("BYTES=0-0", 100, (0, 0)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole audio
        ("items=0-9", 100, None),  # another unit
        ("bytes=-", 100, None),
        ("bytes=a-b", 100, None),
    ],
)
def test_a_range_header_asks_for(header, size, expected):
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    "header, size",
    [
        ("bytes=100-", 100),
        ("bytes=150-200", 100),
        ("bytes=9-5", 100),
        ("bytes=-0", 100),
        ("bytes=0-", 0),
    ],
)
def test_a_range_without_any_byte_of_the_audio_is_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        byte_range(header, size)


@pytest.fixture
async def downloads(api, tmp_path) -> list[str]:
    """A message's, a media object's and a greeting's download paths."""
    tone = make_tone(tmp_path, 2.0)
    box = await api.client.create_box("3000")
    message = await api.client.create_message(box["id"], tone)
    media = await api.client.put("/media", {"data": {"name": "Hello"}})
    headers = {"Content-Type": "audio/wav"}
    await api.client.call(
        "PUT", f"/media/{media.data['id']}/raw", data=tone.read_bytes(), headers=headers
    )
    await api.client.call(
        "PUT", f"/vmboxes/{box['id']}/greetings/name", data=tone.read_bytes(), headers=headers
    )
    return [
        f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw",
        f"/media/{media.data['id']}/raw?format=mp3",
        f"/vmboxes/{box['id']}/greetings/name",
    ]


async def test_every_audio_download_answers_a_range_with_those_bytes(api, downloads):
    for path in downloads:
        whole = await api.client.get(path)
        assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes", path
        size = len(whole.body)
        part = await api.client.get(path, headers={"Range": "bytes=100-1099"})
        assert part.status == 206, path
        assert part.body == whole.body[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{size}"
        assert part.headers["Content-Length"] == "1000"
        assert part.headers["Content-Type"] == whole.headers["Content-Type"]
        tail = await api.client.get(path, headers={"Range": "bytes=-10"})
        assert tail.status == 206 and tail.body == whole.body[-10:]


async def test_a_range_past_the_end_is_416_saying_how_long_the_audio_is(api, downloads):
    for path in downloads:
        size = len((await api.client.get(path)).body)
        reply = await api.client.get(path, headers={"Range": f"bytes={size}-"})
        assert reply.status == 416, path
        assert reply.headers["Content-Range"] == f"bytes */{size}"
        assert str(size) in reply.data["message"]


async def test_a_range_of_audio_changed_since_gets_the_whole_new_audio(api, downloads):
    path = downloads[0]
    whole = await api.client.get(path)
    same = await api.client.get(
        path, headers={"Range": "bytes=0-9", "If-Range": whole.headers["Etag"]}
    )
    assert same.status == 206
    changed = await api.client.get(path, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert changed.status == 200 and changed.body == whole.body
