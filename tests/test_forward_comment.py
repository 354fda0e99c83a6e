"""A forward by phone behind a spoken comment (KAZOO's prepend_forward), as the call services do it on
a real store: the copy's audio is the comment, KAZOO's 440 Hz tone for 500 ms, then the message
(joined in process); its length is the whole; it is news in its box; the comment file is used up; the
source message is untouched. Tones of different pitches stand in for speech, so the order of the
parts can be read back from the stored audio by counting zero crossings."""

import array
import json
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.flow.actions import ForwardMessage
from ivr.flow.events import Forwarded
from ivr.flow.model import CallInfo, Purpose, Recording
from ivr.services import CallServices
from store.messages import create_message, get_message
from store.vmboxes import create_vmbox

RATE = 8000


def tone(path: Path, seconds: float, hz: int) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path)]
        + ["synth", str(seconds), "sine", str(hz)],
        check=True,
        capture_output=True,
    )
    return path


def pitch(samples: array.array, start_ms: int, end_ms: int) -> float:
    """The frequency of a pure tone between two offsets, from its zero crossings."""
    part = samples[start_ms * RATE // 1000 : end_ms * RATE // 1000]
    crossings = sum(1 for a, b in zip(part, part[1:], strict=False) if (a < 0) != (b < 0))
    return crossings / 2 / ((end_ms - start_ms) / 1000)


def read_samples(path: Path) -> array.array:
    with wave.open(str(path)) as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (RATE, 2, 1)
        return array.array("h", audio.readframes(audio.getnframes()))


@pytest.fixture
async def forwarding(store, account, tmp_path):
    """Boxes 3000 (with a 2 s, 300 Hz message) and 3001, and the services of a call from 3000."""
    source = await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})
    target = await create_vmbox(store.db, account, {"name": "Bob", "mailbox": "3001"})
    audio = await store.media.store(tone(tmp_path / "message.wav", 2, 300), account)
    message = await create_message(store, account, source.id, {"caller_id_number": "6001"}, audio)
    call = CallInfo("call-1", Purpose.CHECK, "3000", account_id=account)
    return CallServices(store), call, source, target, message


async def messages_in(store, box_id: str) -> list:
    return await store.db.fetch_all(
        "SELECT id, doc, media_file FROM messages WHERE box_id = ?", (box_id,)
    )


async def test_the_copy_holds_the_comment_the_tone_then_the_message(store, forwarding, tmp_path):
    services, call, source, target, message = forwarding
    comment = tone(tmp_path / "comment.wav", 1, 1000)
    action = ForwardMessage(source.id, message.id, "3001", Recording(str(comment), 1000))
    assert await services.forward(call, action) == Forwarded(True)

    [copy] = await messages_in(store, target.id)
    samples = read_samples(store.media.path(copy["media_file"]))
    assert len(samples) == 3.5 * RATE  # 1 s + 0.5 s + 2 s
    assert pitch(samples, 50, 950) == pytest.approx(1000, rel=0.02)
    assert pitch(samples, 1050, 1450) == pytest.approx(440, rel=0.02)
    assert pitch(samples, 1550, 3450) == pytest.approx(300, rel=0.02)
    assert json.loads(copy["doc"])["length"] == 3500
    assert not comment.exists()
    kinds = [row["kind"] for row in await store.db.fetch_all("SELECT kind FROM jobs")]
    assert kinds == ["message.new", "message.new"]  # the deposit's, and the forward's
    kept = await get_message(store.db, call.account_id, source.id, message.id, 0)
    assert kept.doc == message.doc and read_samples(store.media.path(kept.media_file)) == (
        read_samples(store.media.path(message.media_file))
    )


async def test_a_comment_that_is_not_audio_is_left_out_and_the_message_still_goes(
    store, forwarding, tmp_path
):
    services, call, source, target, message = forwarding
    comment = tmp_path / "comment.wav"
    comment.write_bytes(b"RIFF but not really a wave file")
    action = ForwardMessage(source.id, message.id, "3001", Recording(str(comment), 1000))
    assert await services.forward(call, action) == Forwarded(True)
    [copy] = await messages_in(store, target.id)
    assert len(read_samples(store.media.path(copy["media_file"]))) == 2 * RATE
    assert not comment.exists()


async def test_a_comment_for_an_unknown_mailbox_is_not_left_behind(store, forwarding, tmp_path):
    services, call, source, target, message = forwarding
    comment = tone(tmp_path / "comment.wav", 1, 1000)
    action = ForwardMessage(source.id, message.id, "4000", Recording(str(comment), 1000))
    assert await services.forward(call, action) == Forwarded(False)
    assert await messages_in(store, target.id) == [] and not comment.exists()
