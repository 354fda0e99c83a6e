"""`vmbox serve` stopped (SIGTERM) with calls in progress on a real Asterisk, over FastAGI and over ARI:
the calls leave vmbox for the dialplan, and the message a caller was leaving is not lost: vmbox keeps it
from its journal of messages being recorded (ivr/recordings.py) once it runs again."""

import signal

from tests.asterisk.install import SOUNDS
from tests.asterisk.scenarios import Scenarios

SPEECH = SOUNDS / "tt-weasels.wav"

scenario = Scenarios()


@scenario
async def calls_in_progress_when_vmbox_stops_go_back_to_the_dialplan(scene):
    """One caller is leaving a message, an owner is in the main menu: vmbox stops."""
    own = await scene.own_vmbox()
    box = await own.box()
    caller = await own.call("leave", box, caller_id='"Bob" <5551234>')
    await caller.hears("beep")
    await caller.say(own.speech(SPEECH, pause_s=1))
    owner = await own.call("check", box)
    await owner.hears("vm-password")
    await owner.press("1234#")
    await owner.hears("main_menu")
    assert await own.vmbox.stop(signal.SIGTERM) == 0
    for phone in (caller, owner):
        await phone.hung_up.wait()
        assert any(step.startswith("vmbox-continue,") for step in phone.far_dialplan), (
            phone.far_dialplan
        )
    await own.vmbox.start()
    [message] = await own.until_messages(box, 1)
    assert (message["caller_id_number"], message["caller_id_name"]) == ("5551234", "Bob")
    reply = await own.api.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert reply.status == 200 and len(reply.body) > 3 * 16000  # the 3 s said, at least


test_on_asterisk = scenario.tests()
test_both_drivers_say_the_same = scenario.same_sounds()
