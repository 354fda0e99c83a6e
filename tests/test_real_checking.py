"""Checking messages on a real Asterisk, over FastAGI and over ARI: logging in (PIN right, wrong, locked
out across calls; the owner known by caller ID), counts and menus (silence at the main menu: 4 rounds,
then goodbye), the envelope said in the box's timezone, fast-forward and rewind as heard, saving,
deleting and forwarding, previous and next as KAZOO's, 9 without a number, greetings and names recorded
by phone and heard by the next caller, a forward behind a spoken comment, the setup wizard (PIN and greeting), and 6 in the options making
the box announcement only (KAZOO's toggle_announcement_mode), heard by the next caller and the owner."""

import random
import time
from datetime import UTC, datetime

from tests.asterisk.heard import RATE, Heard, pcm, write_wav
from tests.asterisk.install import SOUNDS
from tests.asterisk.scenarios import Scenarios

SPEECH = SOUNDS / "tt-weasels.wav"
BEEP_S = 0.4255  # Asterisk's beep.wav: recording starts as it ends
GREGORIAN_OFFSET = 62_167_219_200  # seconds from year 0 to 1970, as KAZOO counts time

scenario = Scenarios()


def noise(scene, seconds: float, seed: int):
    """A WAV of white noise: every 20 ms of it is unique, so what was heard locates itself in it."""
    path = scene.harness.directory / f"noise-{seconds:g}-{seed}.wav"
    if not path.exists():
        draw = random.Random(seed)
        samples = [draw.randint(-8000, 8000) for _ in range(int(seconds * RATE))]
        write_wav(path, b"".join(value.to_bytes(2, "little", signed=True) for value in samples))
    return path


async def message(scene, box: dict, seconds: float = 2.0, seed: int = 1, **metadata) -> dict:
    """A message with `seconds` of noise, as if left by 5551234."""
    fields = {"caller_id_number": "5551234", "caller_id_name": "Bob", **metadata}
    return await scene.api.create_message(box["id"], noise(scene, seconds, seed), **fields)


async def log_in(caller, pin: str = "1234") -> None:
    await caller.hears("vm-password")
    await caller.press(f"{pin}#")


@scenario
async def a_wrong_pin_then_the_right_one(scene):
    box = await scene.box()
    caller = await scene.call("check", box)
    await log_in(caller, "9999")
    await caller.hears("vm-incorrect")
    await log_in(caller, "1234")
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await scene.assert_heard(
        caller,
        [
            "vm-password",
            "vm-incorrect",
            "vm-password",
            "vm-youhave",
            "vm-no",
            "vm-messages",
            "main_menu",
            "vm-goodbye",
        ],
    )


@scenario
async def wrong_pins_lock_the_box_across_calls(scene):
    """The harness's vmbox locks a box after 5 failures: 3 in one call, 2 in the next, then even the
    right PIN is refused."""
    box = await scene.box()
    first = await scene.call("check", box)
    for _ in range(3):
        await log_in(first, "9999")
        await first.hears("vm-incorrect")
    await first.hears("vm-goodbye")
    await first.hung_up.wait()
    second = await scene.call("check", box)
    for pin in ("9999", "9999", "1234"):
        await log_in(second, pin)
        await second.hears("vm-incorrect")
    await second.hears("vm-goodbye")
    await second.hung_up.wait()
    assert "main_menu" not in second.played


@scenario
async def the_owner_calling_from_their_phone_needs_no_pin(scene):
    number = scene.number()
    user = await scene.api.put(
        "/users", {"data": {"first_name": "Ann", "last_name": "Lee", "caller_id_numbers": [number]}}
    )
    assert user.status == 201, user.body
    box = await scene.box(owner_id=user.data["id"])
    await message(scene, box)
    caller = await scene.call("own", caller_id=f'"Ann" <{number}>')
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    assert "vm-password" not in caller.played
    assert caller.played[:5] == ["vm-youhave", "digits/1", "vm-INBOX", "vm-message", "main_menu"]


@scenario
async def counts_and_menus(scene):
    box = await scene.box()
    for seed in (1, 2):
        await message(scene, box, seed=seed)
    await message(scene, box, seed=3, folder="saved")
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("5")
    await caller.hears("options_menu")
    await caller.press("0")
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await scene.assert_heard(
        caller,
        [
            "vm-password",
            "vm-youhave",
            "digits/2",
            "vm-INBOX",
            "vm-messages",
            "vm-and",
            "digits/1",
            "vm-saved",
            "vm-message",
            "main_menu",
            "options_menu",
            *[
                "vm-youhave",
                "digits/2",
                "vm-INBOX",
                "vm-messages",
                "vm-and",
                "digits/1",
                "vm-saved",
            ],
            "vm-message",
            "main_menu",
            "vm-goodbye",
        ],
    )


@scenario
async def silence_at_the_main_menu_asks_four_times_then_says_goodbye(scene):
    """KAZOO's main menu: no key in time says the counts and the menu again, 4 rounds, then goodbye."""
    box = await scene.box()
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("vm-goodbye", timeout=180)
    await caller.hung_up.wait()
    menu = ["vm-youhave", "vm-no", "vm-messages", "main_menu"]
    await scene.assert_heard(caller, ["vm-password", *menu * 4, "vm-goodbye"])


LEFT = datetime(2026, 11, 15, 14, 5, tzinfo=UTC).timestamp()  # a Sunday, 14:05 UTC


async def envelope_date(scene, box: dict) -> list[str]:
    """What the owner hears of a message left at LEFT, from "received" to "from"."""
    await message(scene, box, seconds=1, timestamp=int(LEFT) + GREGORIAN_OFFSET)
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("1")
    await caller.hears("message_menu")
    await caller.press("#")
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    said = caller.played
    assert said[said.index("vm-from") + 1 :][:7] == [f"digits/{d}" for d in "5551234"]
    return said[said.index("vm-received") + 1 : said.index("vm-from")]


def spoken(*parts: str) -> list[str]:
    return [f"digits/{part}" for part in parts]


@scenario
async def the_envelope_is_said_in_the_box_s_timezone(scene):
    """14:05 UTC is 9:05 AM in New York: Asterisk's own SAY DATETIME says it over FastAGI, vmbox
    composes the same sounds over ARI (the same-sounds test compares them)."""
    box = await scene.box(timezone="America/New_York")
    assert await envelope_date(scene, box) == spoken(
        "day-0", "mon-10", "h-15", "2", "thousand", "20", "6", "at", "9", "oh", "5", "a-m"
    )


@scenario
async def a_box_without_a_timezone_speaks_in_its_owner_s(scene):
    """As KAZOO inherits it: the box names none, its owner is in Tokyo, where 14:05 UTC is 11:05 PM."""
    user = await scene.api.put(
        "/users", {"data": {"first_name": "Ann", "last_name": "Lee", "timezone": "Asia/Tokyo"}}
    )
    box = await scene.box(owner_id=user.data["id"], timezone="inherit")
    assert await envelope_date(scene, box) == spoken(
        "day-0", "mon-10", "h-15", "2", "thousand", "20", "6", "at", "11", "oh", "5", "p-m"
    )


@scenario
async def fast_forward_and_rewind_move_by_the_seek_step(scene):
    """The heard audio places every stretch of the message (noise: each 20 ms is unique): after 8 the
    message goes on 3 s further than where it stopped, after 5 it goes back 3 s."""
    box = await scene.box(
        is_voicemail_ff_rw_enabled=True, seek_duration_ms=3000, skip_envelope=True
    )
    audio = noise(scene, 20, seed=7)
    await scene.api.create_message(box["id"], audio, caller_id_number="5551234")
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("1")
    await caller.hears("audio")
    await caller.press("8")
    await caller.hears("audio")
    await caller.press("5")
    await caller.hears("audio")
    await caller.press("1")  # keep it
    await caller.hears("vm-msgsaved")
    await caller.hears("main_menu")  # after "no more messages", which takes no key
    await caller.press("#")
    await caller.hears("vm-goodbye")
    runs = (await caller.heard()).runs_of(pcm(audio))
    first, forward, back = runs
    assert first.source_s == 0
    assert abs(forward.source_s - (first.source_end_s + 3)) < 0.15, runs
    assert abs(back.source_s - max(0.0, forward.source_end_s - 3)) < 0.15, runs
    [kept] = await scene.messages(box, "saved")
    assert kept["media_id"]


@scenario
async def save_delete_and_forward(scene):
    box, other = await scene.box(skip_envelope=True), await scene.box()
    for seed in (1, 2, 3):
        await message(
            scene, box, seed=seed, timestamp=GREGORIAN_OFFSET + int(time.time()) // 10 * 10 + seed
        )
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("1")
    for key, notice in (("1", "vm-msgsaved"), ("7", "vm-deleted")):
        await caller.hears("audio")
        await caller.press(key)
        await caller.hears(notice)
    await caller.hears("audio")
    await caller.press("3")
    await caller.hears("enter_forward_mailbox")
    await caller.press(f"{other['mailbox']}#")
    await caller.hears("forward_menu")
    await caller.press("2")  # as it is
    await caller.hears("message_forwarded")
    await caller.hears("vm-nomore")
    await caller.hears("main_menu")  # "no more messages" takes no key
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    folders = {m["timestamp"] % 10: m["folder"] for m in await scene.messages(box, "saved")}
    folders |= {m["timestamp"] % 10: m["folder"] for m in await scene.messages(box, "deleted")}
    assert folders == {
        3: "saved",
        2: "deleted",
        1: "saved",
    }  # newest first; forwarded is filed saved
    [copy] = await scene.messages(other)
    assert copy["folder"] == "new"


@scenario
async def forward_behind_a_spoken_comment(scene):
    """KAZOO's prepend_forward (on in the harness's vmbox): 3, the mailbox, then 1 records a comment.
    The copy's audio is the comment (the owner's speech, after the 1 s pause), KAZOO's 440 Hz tone for
    0.5 s, then the whole message, sample for sample; the original is filed saved."""
    box, other = await scene.box(skip_envelope=True), await scene.box()
    original = noise(scene, 3, seed=31)
    await scene.api.create_message(box["id"], original, caller_id_number="5551234")
    owner = await scene.call("check", box)
    await log_in(owner)
    await owner.hears("main_menu")
    await owner.press("1")
    await owner.hears("audio")
    await owner.press("3")
    await owner.hears("enter_forward_mailbox")
    await owner.press(f"{other['mailbox']}#")
    await owner.hears("forward_menu")
    await owner.press("1")
    await owner.hears("vm-record-prepend")
    await owner.hears("beep")
    await owner.say(scene.speech(SPEECH, pause_s=1))
    await owner.press("#")
    await owner.hears("vm-review")
    await owner.press("1")
    await owner.hears("message_forwarded")
    await owner.hang_up()
    [copy] = await scene.messages(other)
    reply = await scene.api.get(f"/vmboxes/{other['id']}/messages/{copy['media_id']}/raw")
    assert reply.status == 200
    path = scene.harness.directory / f"{copy['media_id']}.wav"
    path.write_bytes(reply.body)
    stored = Heard(pcm(path))
    [said] = stored.starts_of(pcm(SPEECH))
    assert abs(said - (1.0 - BEEP_S)) < 0.1, (
        said
    )  # said 1 s after the beep began; recorded after it
    [whole] = stored.runs_of(pcm(original))
    assert (whole.source_s, round(whole.length_s, 2)) == (0, 3.0), whole
    assert abs(stored.seconds - (whole.heard_s + 3.0)) < 0.01 and copy["length"] == round(
        stored.seconds * 1000
    )
    assert abs(tone_pitch(stored, whole.heard_s - 0.5, whole.heard_s) - 440) < 10
    [kept] = await scene.messages(box, "saved")
    assert kept["media_id"]


def tone_pitch(heard: Heard, start_s: float, end_s: float) -> float:
    """The frequency of the pure tone heard between two times, from its zero crossings."""
    samples = memoryview(heard.audio).cast("h")[int(start_s * RATE) : int(end_s * RATE)]
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
    return crossings / 2 / (end_s - start_s)


@scenario
async def previous_after_a_delete_and_next_on_the_last(scene):
    """As KAZOO: 4 after a delete skips the deleted message (here, to the same message again: the one
    before it is gone), and 6 on the last message plays it again. Newest first: message 1 is `newer`."""
    box = await scene.box(skip_envelope=True)
    now = GREGORIAN_OFFSET + int(time.time())
    older, newer = noise(scene, 4, seed=21), noise(scene, 4, seed=22)
    for audio, at in ((older, now - 60), (newer, now)):
        await scene.api.create_message(box["id"], audio, caller_id_number="5551234", timestamp=at)
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("1")
    for key in ("7", "4", "6", "#"):  # delete message 1; previous; next; back to the main menu
        await caller.hears("audio")
        await caller.pause(0.5)  # hears the message begin
        await caller.press(key)
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    message_2 = ["vm-message", "digits/2"]
    heard = await scene.assert_heard(
        caller,
        [
            *["vm-password", "vm-youhave", "digits/2", "vm-INBOX", "vm-messages", "main_menu"],
            *["vm-message", "digits/1", "vm-deleted"],
            *message_2 * 3,  # after 7, after 4 (the deleted one skipped), after 6 (the last)
            *["vm-youhave", "digits/1", "vm-INBOX", "vm-message", "main_menu", "vm-goodbye"],
        ],
    )
    # Where each message started to be heard, and went on from (a frame lost under load splits a run).
    assert [run.source_s for run in heard.runs_of(pcm(newer))].count(0) == 1
    runs = [run.source_s for run in heard.runs_of(pcm(older))]
    assert runs.count(0) == 3 and all(
        later > earlier for earlier, later in zip(runs, runs[1:], strict=False) if later
    ), runs
    [deleted] = await scene.messages(box, "deleted")
    [kept] = await scene.messages(box)
    assert (deleted["timestamp"], kept["timestamp"], kept["folder"]) == (now, now - 60, "new")


@scenario
async def nine_on_a_message_from_an_anonymous_caller(scene):
    """A caller ID stored as `anonymous` (KAZOO's word for none) is "an unknown caller", and 9 cannot
    call it back: the caller is told, and the message plays again; nothing is dialled."""
    box = await scene.box()
    await message(scene, box, caller_id_number="anonymous", caller_id_name="anonymous")
    caller = await scene.call("check", box)
    await log_in(caller)
    await caller.hears("main_menu")
    await caller.press("1")
    await caller.hears("vm-unknown-caller")
    await caller.hears("message_menu")
    await caller.press("9")
    await caller.hears("unidentified-no-callback")
    await caller.hears("audio")
    await caller.pause(0.5)  # hears the message begin
    await caller.press("#")
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    played = caller.played
    assert played[played.index("unidentified-no-callback") :][:4] == [
        "unidentified-no-callback",
        "vm-message",
        "digits/1",
        "audio",
    ]
    assert "vm-from" not in played
    assert caller.far_variables.get("VMBOX_RESULT") != "callback"
    assert not any(step.startswith("test-dial") for step in caller.far_dialplan)


@scenario
async def a_greeting_and_a_name_recorded_by_phone_are_heard_by_the_next_callers(scene):
    greeted, named = await scene.box(), await scene.box()
    for box, key, prompt in ((greeted, "1", "vm-rec-unv"), (named, "2", "vm-rec-name")):
        owner = await scene.call("check", box)
        await log_in(owner)
        await owner.hears("main_menu")
        await owner.press("5")
        await owner.hears("options_menu")
        await owner.press(key)
        await owner.hears(prompt)
        await owner.hears("beep")
        await owner.say(scene.speech(SPEECH, pause_s=1))
        await owner.press("#")
        await owner.hears("vm-review")
        await owner.press("1")
        await owner.hears("greeting_saved")
        await owner.hears("options_menu")
        await owner.hang_up()
    for box, after in ((greeted, "vm-intro"), (named, "vm-isunavail")):
        caller = await scene.call("leave", box)
        await caller.hears("audio")
        await caller.hears(after)
        await caller.hears("beep")
        await caller.hang_up()
        heard = await caller.heard()
        assert len(heard.starts_of(pcm(SPEECH))) == 1  # the owner's own words
        assert caller.played[:2] == ["audio", after]


@scenario
async def the_setup_wizard_sets_the_pin_and_the_greeting(scene):
    """KAZOO's wizard: a new PIN, the unavailable greeting, done; no name step."""
    number = scene.number()
    user = await scene.api.put(
        "/users", {"data": {"first_name": "Ann", "last_name": "Lee", "caller_id_numbers": [number]}}
    )
    box = await scene.box(owner_id=user.data["id"], is_setup=False)
    owner = await scene.call("own", caller_id=f'"Ann" <{number}>')
    await owner.hears("setup_intro")
    await owner.hears("vm-newpassword")
    await owner.press("4321#")
    await owner.hears("vm-reenterpassword")
    await owner.press("4321#")
    await owner.hears("vm-passchanged")
    await owner.hears("vm-rec-unv")
    await owner.hears("beep")
    await owner.say(scene.speech(SPEECH, pause_s=1))
    await owner.press("#")
    await owner.hears("vm-review")
    await owner.press("1")
    await owner.hears("greeting_saved")
    await owner.hears("setup_complete")
    await owner.hears("main_menu")
    await owner.hang_up()
    assert "vm-rec-name" not in owner.played
    reply = await scene.api.get(f"/vmboxes/{box['id']}")
    assert reply.data["is_setup"] is True
    assert set(reply.data["media"]) == {"unavailable"}
    caller = await scene.call("check", box, caller_id='"Stranger" <5559999>')
    await log_in(caller, "4321")
    await caller.hears("main_menu")
    await caller.hang_up()


async def greeting_media(scene, audio) -> str:
    """A media object holding `audio`, uploaded through the API; its id, for a box's greeting."""
    media = await scene.api.put("/media", {"data": {"name": "Announcement"}})
    assert media.status == 201, media.body
    raw = await scene.api.call(
        "PUT",
        f"/media/{media.data['id']}/raw",
        data=audio.read_bytes(),
        headers={"Content-Type": "audio/wav"},
    )
    assert raw.status == 200, raw.body
    return media.data["id"]


@scenario
async def six_in_the_options_makes_the_box_announce_only(scene):
    """KAZOO's toggle_announcement_mode: the owner presses 5 then 6 and hears "saved" and the
    announcement-on menu; the next caller hears the greeting and goodbye, no beep, and leaves nothing;
    the owner's next login opens that menu (KAZOO's check_mailbox_menu), where 6 turns it off."""
    box = await scene.box(media={"unavailable": await greeting_media(scene, SPEECH)})
    menu = ["vm-youhave", "vm-no", "vm-messages", "main_menu"]
    owner = await scene.call("check", box)
    await log_in(owner)
    await owner.hears("main_menu")
    await owner.press("5")
    await owner.hears("options_menu")
    await owner.press("6")
    await owner.hears("vm-saved")
    await owner.hears("options_menu_announcement_on")
    await owner.press("0")
    await owner.hears("main_menu")
    await owner.press("#")
    await owner.hears("vm-goodbye")
    await scene.assert_heard(
        owner,
        [
            *["vm-password", *menu, "options_menu"],
            *["vm-saved", "options_menu_announcement_on", *menu, "vm-goodbye"],
        ],
    )
    assert (await scene.api.get(f"/vmboxes/{box['id']}")).data["announcement_only"] is True
    caller = await scene.call("leave", box, caller_id='"Stranger" <5559999>')
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    assert caller.played == ["audio", "vm-goodbye"]  # the greeting; no instructions, no beep
    heard = await caller.heard()  # the greeting is a core sound: heard as itself
    assert scene.sounds(heard) in (["tt-weasels", "vm-goodbye"], ["tt-weasels"])
    assert len(heard.starts_of(pcm(SPEECH))) == 1
    assert await scene.messages(box) == []
    again = await scene.call("check", box)
    await log_in(again)
    await again.hears("options_menu_announcement_on")
    await again.press("6")
    await again.hears("vm-saved")
    await again.hears("options_menu")
    await again.hang_up()
    played = [sound for sound in again.played if not sound.startswith("silence/")]  # ARI's waits
    assert played[:4] == [
        "vm-password",
        "options_menu_announcement_on",
        "vm-saved",
        "options_menu",
    ]
    assert (await scene.api.get(f"/vmboxes/{box['id']}")).data["announcement_only"] is False


test_on_asterisk = scenario.tests()
test_both_drivers_say_the_same = scenario.same_sounds()
