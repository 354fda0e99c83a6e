"""The journal of messages being recorded (ivr/recordings.py), on a real store and real WAV files: a
message cut short by vmbox stopping is kept once its recording is finished, and nothing else is touched."""

import json
import math
import os

import pytest

from ivr.calls import recorded
from ivr.flow.actions import DiscardRecording, SaveMessage
from ivr.flow.model import CallInfo, Purpose, Recording
from ivr.recordings import SETTLE_S, Journal, recover
from ivr.services import CallServices
from store.audio import wav_info
from store.message_listing import MessageQuery, list_messages
from store.vmboxes import create_vmbox, folder_counts
from tests.asterisk.heard import RATE, write_wav

CALL = CallInfo("1700000000.7", Purpose.LEAVE, "3000", "5551234", "Bob", account_id="")
MIN_MS = 500


def make_tone(directory, seconds: float, name: str):
    """A 440 Hz tone as Asterisk's RECORD FILE writes a recording (8 kHz 16-bit mono PCM WAV)."""
    samples = (
        int(8000 * math.sin(2 * math.pi * 440 * n / RATE)) for n in range(int(seconds * RATE))
    )
    return write_wav(
        directory / name, b"".join(v.to_bytes(2, "little", signed=True) for v in samples)
    )


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(store, account, tmp_path):
    directory = tmp_path / "recordings"
    directory.mkdir()
    clock = Clock()
    journal = Journal(directory, clock)
    services = CallServices(store, journal=journal)
    box = await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})
    call = CallInfo(**{**CALL.__dict__, "account_id": account})
    return journal, services, box, call, clock


def recording(journal: Journal, stem: str, seconds: float, age_s: float) -> None:
    """A WAV Asterisk wrote, last changed `age_s` before the journal's clock."""
    path = make_tone(journal.directory, seconds, f"{stem}.wav")
    os.utime(path, (journal.clock() - age_s, journal.clock() - age_s))


async def counts(store, box) -> dict:
    return await folder_counts(store.db, box.id, store.cutoff())


async def test_a_message_cut_short_is_kept_once_asterisk_has_finished_it(store, setup):
    journal, services, box, call, clock = setup
    journal.open("1700000000.7-1", call, box.id, 500)
    journal.release_call(call.call_id, 1)  # vmbox stopped during the recording
    recording(journal, "1700000000.7-1", 2, age_s=1)
    assert await recover(journal, services, MIN_MS) == 0  # still being written: left alone
    clock.now += SETTLE_S
    assert await recover(journal, services, MIN_MS) == 1
    assert (await counts(store, box))["new"] == 1
    assert list(journal.directory.iterdir()) == []  # audio adopted, journal entry gone
    assert await recover(journal, services, MIN_MS) == 0


async def test_the_kept_message_carries_its_caller(store, setup):
    journal, services, box, call, clock = setup
    journal.open("1700000000.7-1", call, box.id, 500)
    journal.release_call(call.call_id, 1)
    recording(journal, "1700000000.7-1", 2, age_s=SETTLE_S)
    await recover(journal, services, MIN_MS)
    [(_, _, _, metadata)] = await list_messages(
        store.db, MessageQuery(call.account_id, box.id), store.cutoff()
    )
    message = json.loads(metadata)
    assert (message["caller_id_number"], message["caller_id_name"], message["call_id"]) == (
        "5551234",
        "Bob",
        "1700000000.7",
    )


async def test_calls_in_progress_here_are_never_touched(store, setup):
    journal, services, box, call, clock = setup
    journal.open("1700000000.7-1", call, box.id, 500)
    recording(journal, "1700000000.7-1", 2, age_s=60)  # e.g. in the review menu for a minute
    assert await recover(journal, services, MIN_MS) == 0
    assert (await counts(store, box))["new"] == 0
    assert len(list(journal.directory.iterdir())) == 2


async def test_a_recording_too_short_is_dropped_with_its_entry(store, setup):
    journal, services, box, call, clock = setup
    journal.open("1700000000.7-1", call, box.id, 500)
    journal.release_call(call.call_id, 1)
    recording(journal, "1700000000.7-1", 0.2, age_s=SETTLE_S)
    assert await recover(journal, services, MIN_MS) == 0
    assert list(journal.directory.iterdir()) == [] and (await counts(store, box))["new"] == 0


async def test_the_flow_keeping_or_dropping_a_recording_closes_its_entry(store, setup):
    journal, services, box, call, clock = setup
    for number, action in ((1, SaveMessage), (2, DiscardRecording)):
        stem = f"1700000000.7-{number}"
        journal.open(stem, call, box.id, 500)
        path = make_tone(journal.directory, 2, f"{stem}.wav")
        held = Recording(str(path), 2000)
        await services.run(call, action(box.id, held) if action is SaveMessage else action(held))
    assert list(journal.directory.iterdir()) == []
    assert (await counts(store, box))["new"] == 1


async def test_a_recording_asterisk_holds_is_fetched_or_waited_for(store, setup):
    journal, services, box, call, clock = setup
    answers = {"a-1": None, "b-1": False, "c-1": True}

    async def fetch(stem, path):
        if answers[stem]:
            make_tone(journal.directory, 2, path.name)
            os.utime(path, (clock() - SETTLE_S, clock() - SETTLE_S))
        return answers[stem]

    for stem in answers:
        journal.open(stem, CallInfo(**{**call.__dict__, "call_id": stem[0]}), box.id, 500)
    journal.active.clear()  # an earlier process's entries
    assert await recover(journal, services, MIN_MS, fetch) == 1  # c: fetched and kept
    clock.now += 500 + SETTLE_S + 1  # long after any recording could still be going on
    assert await recover(journal, services, MIN_MS, fetch) == 0
    # a: Asterisk could not be asked, kept for later; b: Asterisk holds none, dropped
    assert sorted(path.name for path in journal.directory.iterdir()) == ["a-1.json"]
    assert (await counts(store, box))["new"] == 1


async def test_a_kept_recording_is_cut_to_the_box_s_limit(store, setup):
    """ARI's recordings run past maxDurationSeconds (3.02 s for 2 seen on 22.10.1): the message is not."""
    journal, services, box, call, clock = setup
    journal.open("1700000000.7-1", call, box.id, 2)
    journal.release_call(call.call_id, 1)
    recording(journal, "1700000000.7-1", 3.02, age_s=SETTLE_S)
    assert await recover(journal, services, MIN_MS) == 1
    [(_, _, _, metadata)] = await list_messages(
        store.db, MessageQuery(call.account_id, box.id), store.cutoff()
    )
    assert json.loads(metadata)["length"] == 2000


def test_recorded_cuts_only_what_is_longer(tmp_path):
    long, short = make_tone(tmp_path, 3.5, "long.wav"), make_tone(tmp_path, 1.5, "short.wav")
    before = short.read_bytes()
    assert recorded(long, 2).length_ms == 2000 and wav_info(long).length_ms == 2000
    assert recorded(short, 2).length_ms == 1500 and short.read_bytes() == before
    assert recorded(tmp_path / "none.wav", 2) is None
    (tmp_path / "text.wav").write_text("not audio")
    assert recorded(tmp_path / "text.wav", 2) is None
