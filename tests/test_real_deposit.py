"""Leaving messages on a real Asterisk, over FastAGI and over ARI: what the caller hears (the sound files
Asterisk played, and the audio recorded on the caller's side), where the dialplan goes afterwards, and
what vmbox stores."""

from tests.asterisk.heard import Heard, pcm, write_wav
from tests.asterisk.install import SOUNDS
from tests.asterisk.scenarios import Scenarios

SPEECH = (
    SOUNDS / "tt-weasels.wav"
)  # "Weasels have eaten our phone system": speech vmbox never plays
BEEP_S = 0.4255  # Asterisk's beep.wav
GREETING = ["vm-theperson", "digits/{0}", "digits/{1}", "digits/{2}", "digits/{3}", "vm-isunavail"]

scenario = Scenarios()


def default_greeting(box: dict) -> list[str]:
    return [sound.format(*box["mailbox"]) for sound in GREETING]


async def stored_audio(scene, box: dict, message: dict) -> Heard:
    """A message's audio as vmbox stores it (the boxes keep wav: the samples as recorded)."""
    reply = await scene.api.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 200
    path = scene.harness.directory / f"{message['media_id']}.wav"
    path.write_bytes(reply.body)
    return Heard(pcm(path))


async def holds_the_speech(scene, caller, box: dict, message: dict) -> None:
    """The message holds all of the caller's speech, where Asterisk's clock puts it: the caller said it
    (a 1 s pause first) from when its speech file started playing, and recording started as the
    beep ended (0.43 s after it began)."""
    beep = max(at for sound, at in caller.far_started if sound == "beep")
    said = max(at for sound, at in caller.own_started if sound.startswith("said-"))
    [start] = (await stored_audio(scene, box, message)).starts_of(pcm(SPEECH))
    expected = said + 1.0 - (beep + BEEP_S)
    assert abs(start - expected) < 0.1, (start, expected)


@scenario
async def leave_a_message(scene):
    box = await scene.box()
    caller = await scene.call("leave", box, caller_id='"Bob" <5551234>')
    await caller.hears("beep")
    await caller.say(scene.speech(SPEECH, pause_s=1))
    await caller.press("#")
    await caller.hears("vm-review")
    await caller.press("1")
    await caller.hears("vm-goodbye")
    await scene.assert_heard(
        caller,
        [
            *default_greeting(box),
            "vm-intro",
            "beep",
            "vm-review",
            "vm-msgsaved",
            "vm-goodbye",
        ],
    )
    [message] = await scene.messages(box)
    assert (message["caller_id_number"], message["caller_id_name"], message["folder"]) == (
        "5551234",
        "Bob",
        "new",
    )
    await holds_the_speech(scene, caller, box, message)


@scenario
async def hang_up_while_recording_keeps_the_message(scene):
    box = await scene.box()
    caller = await scene.call("leave", box)
    await caller.hears("beep")
    await caller.say(scene.speech(SPEECH, pause_s=1))
    await caller.hang_up()
    [message] = await scene.until_messages(box, 1)
    await holds_the_speech(scene, caller, box, message)


@scenario
async def hang_up_while_reviewing_keeps_the_message(scene):
    box = await scene.box()
    caller = await scene.call("leave", box)
    await caller.hears("beep")
    await caller.say(scene.speech(SPEECH, pause_s=1))
    await caller.press("#")
    await caller.hears("vm-review")
    await caller.hang_up()
    [message] = await scene.until_messages(box, 1)
    await holds_the_speech(scene, caller, box, message)


@scenario
async def a_recording_too_short_goes_to_the_review_and_is_recorded_again(scene):
    """As KAZOO: a caller who pressed # at once hears the review; 1 says it is too short to keep (a
    listed difference: KAZOO says "saved" and drops it), 3 records again, 1 keeps the new take."""
    box = await scene.box()
    caller = await scene.call("leave", box)
    await caller.hears("beep")
    await caller.pause(0.6)  # the beep lasts 0.43 s: a key during it ends nothing
    await caller.press("#")
    await caller.hears("vm-review")
    await caller.press("1")
    await caller.hears("vm-tooshort")
    await caller.hears("vm-review")
    await caller.pause(0.5)  # hears the review begin (a key at once would leave nothing to hear)
    await caller.press("3")
    await caller.hears("beep")
    await caller.say(scene.speech(SPEECH, pause_s=1))
    await caller.press("#")
    await caller.hears("vm-review")
    await caller.press("1")
    await caller.hears("vm-goodbye")
    await scene.assert_heard(
        caller,
        [
            *default_greeting(box),
            "vm-intro",
            "beep",
            "vm-review",
            "vm-tooshort",
            "vm-review",
            "beep",
            "vm-review",
            "vm-msgsaved",
            "vm-goodbye",
        ],
    )
    [message] = await scene.messages(box)
    await holds_the_speech(scene, caller, box, message)


@scenario
async def a_box_s_max_message_length_ends_the_recording(scene):
    """A box with max_message_length 2 (KAZOO's field): a caller who talks on makes a message of 2 s."""
    box = await scene.box(max_message_length=2)
    talk = scene.harness.directory / "talking-on.wav"
    if not talk.exists():
        write_wav(talk, pcm(SPEECH) * 4)  # 11.8 s
    caller = await scene.call("leave", box)
    await caller.hears("vm-intro")
    await caller.say(talk)  # from the instructions on, through the beep and the recording
    await caller.hears("vm-review")
    await caller.press("1")
    await caller.hears("vm-goodbye")
    [message] = await scene.messages(box)
    # RECORD FILE stops on time; 22.10.1's ARI recording has been seen to stop up to a second late (2.4,
    # 2.76 and 3.02 s for 2): vmbox cuts it to the limit.
    assert 1800 <= message["length"] <= 2000, message


@scenario
async def a_full_box_records_nothing(scene):
    box = await scene.box(max_message_count=1)
    await scene.api.create_message(box["id"], caller_id_number="6001")
    caller = await scene.call("leave", box)
    await caller.hears("vm-mailboxfull")
    await caller.hears("vm-goodbye")
    await scene.assert_heard(caller, [*default_greeting(box), "vm-mailboxfull", "vm-goodbye"])
    assert "beep" not in caller.played and len(await scene.messages(box)) == 1


@scenario
async def zero_sends_the_caller_to_the_operator(scene):
    operator = scene.number()
    box = await scene.box(operator_number=operator)
    caller = await scene.call("leave", box)
    await caller.hears("vm-theperson")
    await caller.press("0")
    await caller.hung_up.wait()  # test-dial hangs up once it has seen where the call went
    assert caller.far_variables["VMBOX_RESULT"] == "operator"
    assert caller.far_variables["VMBOX_DESTINATION"] == operator
    assert any(step.startswith(f"test-dial,{operator},") for step in caller.far_dialplan), (
        caller.far_dialplan
    )
    assert "vm-intro" not in caller.played and await scene.messages(box) == []


@scenario
async def star_during_the_greeting_logs_in(scene):
    box = await scene.box()
    caller = await scene.call("leave", box, caller_id='"Stranger" <5559999>')
    await caller.hears("vm-theperson")
    await caller.press("*")
    await caller.hears("vm-password")
    await caller.press("1234#")
    await caller.hears("main_menu")
    await caller.press("#")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()
    assert "beep" not in caller.played


@scenario
async def the_owner_calling_their_own_announcement_only_box_logs_in(scene):
    """KAZOO's order: even with check_if_owner off, the owner calling their own announcement-only box
    checks it rather than hear the announcement, and it opens the options menu (no PIN: their phone)."""
    number = scene.number()
    user = await scene.api.put(
        "/users", {"data": {"first_name": "Ann", "last_name": "Lee", "caller_id_numbers": [number]}}
    )
    assert user.status == 201, user.body
    box = await scene.box(owner_id=user.data["id"], announcement_only=True, check_if_owner=False)
    owner = await scene.call("leave", box, caller_id=f'"Ann" <{number}>')
    await owner.hears("options_menu_announcement_on")
    await owner.press("0")
    await owner.hears("main_menu")
    await owner.press("#")
    await owner.hears("vm-goodbye")
    await scene.assert_heard(
        owner,
        [
            "options_menu_announcement_on",
            *["vm-youhave", "vm-no", "vm-messages", "main_menu"],
            "vm-goodbye",
        ],
    )


test_on_asterisk = scenario.tests()
test_both_drivers_say_the_same = scenario.same_sounds()
