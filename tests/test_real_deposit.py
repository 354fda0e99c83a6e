"""Leaving messages on a real Asterisk, over FastAGI and over ARI: what the caller hears (the sound files
Asterisk played and the audio recorded on the caller's side) and what vmbox stores."""

from tests.asterisk.heard import Heard, pcm
from tests.asterisk.install import SOUNDS
from tests.asterisk.scenarios import Scenarios

SPEECH = (
    SOUNDS / "tt-weasels.wav"
)  # "Weasels have eaten our phone system": speech vmbox never plays
GREETING = [
    "vm-theperson",
    "digits/{0}",
    "digits/{1}",
    "digits/{2}",
    "digits/{3}",
    "vm-isunavail",
    "vm-intro",
]

scenario = Scenarios()


def default_greeting(box: dict) -> list[str]:
    return [sound.format(*box["mailbox"]) for sound in GREETING]


async def stored_audio(scene, box: dict, message: dict) -> Heard:
    reply = await scene.api.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 200
    path = scene.harness.directory / f"{message['media_id']}.wav"
    path.write_bytes(reply.body)
    return Heard(pcm(path))


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
    heard = await caller.heard()

    assert scene.sounds(heard) == [
        *default_greeting(box),
        "beep",
        "vm-review",
        "vm-msgsaved",
        "vm-goodbye",
    ]
    [message] = await scene.messages(box)
    assert (message["caller_id_number"], message["caller_id_name"], message["folder"]) == (
        "5551234",
        "Bob",
        "new",
    )
    stored = await stored_audio(scene, box, message)
    speech = pcm(SPEECH)
    assert stored.starts_of(speech) == [0.0] or stored.starts_of(speech), (
        "the caller's speech is not in the message"
    )


test_on_asterisk = scenario.tests()
test_both_drivers_say_the_same = scenario.same_sounds()
