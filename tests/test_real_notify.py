"""What vmbox does beyond a call, on a real Asterisk, over FastAGI (callbacks and lamps over AMI) and
over ARI (callbacks into the Stasis application, lamps through res_ari_mailboxes): an owner called
back about a new message on their phone, and phones' lamps equal to the API's counts."""

import asyncio

from tests.asterisk.heard import pcm
from tests.asterisk.install import SOUNDS
from tests.asterisk.scenarios import Scenarios

SPEECH = SOUNDS / "tt-weasels.wav"

scenario = Scenarios()


async def leave(scene, box: dict) -> None:
    """A caller leaves the speech as a message in `box` and saves it."""
    caller = await scene.call("leave", box, caller_id='"Bob" <5551234>')
    await caller.hears("beep")
    await caller.say(scene.speech(SPEECH, pause_s=1))
    await caller.press("#")
    await caller.hears("vm-review")
    await caller.press("1")
    await caller.hears("vm-goodbye")
    await caller.hung_up.wait()


def mwi_context(scene) -> str:
    return scene.vmbox.serve.env.get("VMBOX_AMI_MWI_CONTEXT", "vmbox")


async def lamp(scene, box: dict, new: int, old: int) -> None:
    """Wait until Asterisk's mailbox of `box` holds `new` and `old` messages (MailboxCount now, else its
    next MessageWaiting events), then check the API counts the same."""
    mailbox = f"{box['mailbox']}@{mwi_context(scene)}"
    asterisk = scene.harness.asterisk
    wanted = (str(new), str(old))
    changed = asyncio.ensure_future(
        asterisk.wait_for(
            lambda event: (
                event["Event"] == "MessageWaiting"
                and event.get("Mailbox") == mailbox
                and (event.get("New"), event.get("Old")) == wanted
            ),
            timeout=60,
        )
    )
    state = await asterisk.ami.action("MailboxCount", Mailbox=mailbox)
    if (state["NewMessages"], state["OldMessages"]) == wanted:
        changed.cancel()
    else:
        await changed
    counted = (len(await scene.messages(box, "new")), len(await scene.messages(box, "saved")))
    assert counted == (new, old)


@scenario
async def a_callback_reaches_the_owner_s_phone(scene):
    number = scene.number()
    box = await scene.box(notify={"callback": {"number": number, "schedule": [0]}})
    answered = scene.answered(number)
    await leave(scene, box)
    phone = await answered
    await phone.hears("main_menu")
    await phone.press("1")
    await phone.hears("audio")  # the message, at once: the owner needs no PIN on a callback
    await phone.hears("vm-received")  # the envelope after the message: the owner heard it all
    await phone.press("1")
    await phone.hears("vm-nomore")
    await phone.hears("main_menu")
    await phone.press("#")
    await phone.hears("vm-goodbye")
    heard = await phone.heard()
    assert phone.played[:5] == ["vm-youhave", "digits/1", "vm-INBOX", "vm-message", "main_menu"]
    # The caller's words on the owner's phone (resampled on the way over ARI: vmbox's ARI callback is a
    # Local channel Asterisk runs at slin192, so compared by loudness, not sample by sample).
    assert len(heard.resembles(pcm(SPEECH))) == 1
    [saved] = await scene.messages(box, "saved")
    assert saved["caller_id_number"] == "5551234"


@scenario
async def lamps_follow_the_api_s_counts(scene):
    box = await scene.box()
    await leave(scene, box)
    await lamp(scene, box, new=1, old=0)
    owner = await scene.call("check", box)
    await owner.hears("vm-password")
    await owner.press("1234#")
    await owner.hears("main_menu")
    await owner.press("1")
    await owner.hears("audio")
    await owner.press("1")
    await owner.hears("vm-msgsaved")
    await lamp(scene, box, new=0, old=1)
    await owner.hang_up()
    [message] = await scene.messages(box, "saved")
    moved = await scene.api.post(
        f"/vmboxes/{box['id']}/messages/{message['media_id']}", {"data": {"folder": "new"}}
    )
    assert moved.status == 200, moved.body
    await lamp(scene, box, new=1, old=0)


test_on_asterisk = scenario.tests()
test_both_drivers_say_the_same = scenario.same_sounds()
