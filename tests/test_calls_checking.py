"""Checking messages end to end: login, listening with fast-forward and rewind, filing, forwarding,
setup, options, owners and lockout; every change seen through the REST API."""

import pytest

from ivr.config import IvrSettings
from ivr.flow.actions import SetAnnouncementOnly
from ivr.flow.events import AnnouncementSet
from ivr.flow.model import CallInfo, Purpose
from ivr.services import CallServices
from store.vmboxes import check_pin, create_vmbox, get_vmbox
from tests.callkit import DRIVERS, is_recorded_audio, said, settings_for, start

LOGIN = "press 1234#"
# Keys a caller presses to let the envelope and the message play out to the message menu: the
# "message N" prompt, the number, the audio, "received", the date, "from", the caller's number.
LISTEN = "wait; wait; wait; wait; wait; wait; wait"


@pytest.fixture(params=DRIVERS)
async def system(request, tmp_path, store_url):
    async with await start(
        settings_for(tmp_path, store_url, ivr=IvrSettings(lockout_failures=3)), request.param
    ) as running:
        yield running


@pytest.fixture
async def box(system):
    box = await system.api.create_box(
        "3000",
        pin="1234",
        is_setup=True,
        is_voicemail_ff_rw_enabled=True,
        timezone="America/New_York",
    )
    call = await system.call(
        "say tone 25s then press #; press 1", leave="3000", caller_number="5551234"
    )
    assert call.ok, call.errors
    return box


def prompts(call) -> list[str]:
    return said(call)


def stream_offsets(call) -> list[int]:
    """The sample offsets (8 kHz) at which message audio started playing."""
    return [round(heard.offset_s * 8000) for heard in call.heard if is_recorded_audio(heard)]


async def test_the_owner_logs_in_listens_and_keeps_a_message(system, box):
    call = await system.call(f"{LOGIN}; press 1; {LISTEN}; press 1; wait; press #", check="3000")
    assert call.ok, call.errors
    said = prompts(call)
    assert said[:2] == ["vm-password", "vm-youhave"]
    assert "say 5 5 5 1 2 3 4" in said and "vm-msgsaved" in said and said[-1] == "vm-goodbye"
    [message] = await system.messages(box["id"])
    assert message["folder"] == "saved"


async def test_fast_forward_and_rewind_move_by_the_seek_duration(system, box):
    script = f"{LOGIN}; press 1; wait; wait; press 8 after 3s; press 5 after 4s; press 0; press #"
    call = await system.call(script, check="3000")
    assert call.ok, call.errors
    # From the start; 3 s in, fast-forward to 13 s; 4 s later (17 s) rewind to 7 s.
    assert stream_offsets(call) == [0, 13 * 8000, 7 * 8000]


async def test_fast_forward_past_the_end_goes_to_the_message_menu(system, box):
    call = await system.call(
        f"{LOGIN}; press 1; wait; wait; press 8 after 20s; press 7; wait; wait; press #",
        check="3000",
    )
    assert call.ok, call.errors
    assert "message_menu_ffrw" in prompts(call) and "vm-deleted" in prompts(call)
    assert await system.messages(box["id"]) == []
    [deleted] = await system.messages(box["id"], filter_folder="deleted")
    assert deleted["folder"] == "deleted"


async def test_seek_duration_comes_from_the_box(system, box):
    await system.api.patch(f"/vmboxes/{box['id']}", {"data": {"seek_duration_ms": 2500}})
    call = await system.call(
        f"{LOGIN}; press 1; wait; wait; press 8 after 1s; press 0; press #", check="3000"
    )
    assert call.ok, call.errors
    assert stream_offsets(call) == [0, 3500 * 8]


async def test_three_wrong_pins_end_the_call(system, box):
    call = await system.call("press 1111#; press 2222#; press 3333#", check="3000")
    assert call.ok, call.errors
    assert prompts(call)[-2:] == ["vm-incorrect", "vm-goodbye"]
    assert call.variables["VMBOX_RESULT"] == "done"


async def test_repeated_failures_across_calls_lock_the_box(system, box):
    await system.call("press 1111#; press 2222#; press 3333#", check="3000")
    call = await system.call(
        f"{LOGIN}; {LOGIN}; {LOGIN}", check="3000"
    )  # the right PIN, but locked
    assert call.ok, call.errors
    assert "vm-youhave" not in prompts(call) and prompts(call)[-1] == "vm-goodbye"


async def test_login_asks_the_mailbox_first(system, box):
    call = await system.call(f"press 3000#; {LOGIN}; press #", login=True)
    assert call.ok, call.errors
    assert prompts(call)[:2] == ["enter_mailbox", "vm-password"]
    assert prompts(call)[-1] == "vm-goodbye"


async def test_the_owners_phone_needs_no_pin(system):
    user = await system.api.put(
        "/users", {"data": {"first_name": "Ann", "last_name": "Owner", "endpoints": ["PJSIP/1001"]}}
    )
    await system.api.create_box("3000", pin="1234", owner_id=user.data["id"], is_setup=True)
    own = await system.call("press #", channel="PJSIP/1001-0000002a")  # *97: no mailbox given
    assert own.ok, own.errors
    assert prompts(own) == ["vm-youhave", "vm-goodbye"]
    stranger = await system.call(
        "press 3000#; press 9999#; press 9999#; press 9999#",
        channel="PJSIP/1002-0000002b",
        caller_number="1001",
    )  # the owner's number, from another phone
    assert stranger.ok, stranger.errors
    assert prompts(stranger)[:2] == ["enter_mailbox", "vm-password"]


async def test_forwarding_copies_to_another_box_and_saves_the_original(system, box):
    other = await system.api.create_box("3001")
    call = await system.call(
        f"{LOGIN}; press 1; {LISTEN}; press 3; press 3001#; wait; press #", check="3000"
    )
    assert call.ok, call.errors
    assert "message_forwarded" in prompts(call)
    [original] = await system.messages(box["id"])
    [copy] = await system.messages(other["id"])
    assert original["folder"] == "saved" and copy["folder"] == "new"
    assert copy["media_id"] != original["media_id"]
    assert (original["to"], copy["to"]) == ("3000@default.vmbox", "3001@default.vmbox")


async def test_a_caller_without_a_number_is_an_unknown_caller_not_anonymous_said_in_digits(system):
    box = await system.api.create_box("3000", pin="1234", is_setup=True)
    left = await system.call("say tone 2s then press #; press 1", leave="3000", caller_number="")
    assert left.ok, left.errors
    [message] = await system.messages(box["id"])
    assert message["caller_id_number"] == "anonymous"  # as KAZOO stores it
    # The envelope: "message", its number, the audio, "received", the date, "from an unknown caller".
    call = await system.call(
        f"{LOGIN}; press 1; wait; wait; wait; wait; wait; wait; press #; press #", check="3000"
    )
    assert call.ok, call.errors
    said = prompts(call)
    assert said[said.index("vm-received") + 2 :] == [
        "vm-unknown-caller",  # not "from" and the letters of "anonymous"
        "message_menu",
        "vm-youhave",  # cut short by the #
        "vm-goodbye",
    ]


async def test_pressing_nine_calls_the_sender_back(system, box):
    call = await system.call(f"{LOGIN}; press 1; {LISTEN}; press 9", check="3000")
    assert call.ok, call.errors
    assert call.variables == {"VMBOX_DESTINATION": "5551234", "VMBOX_RESULT": "callback"}


def with_audio(call) -> list[str]:
    """What the caller heard, a message's audio as `audio` (its name differs by driver and play)."""
    return [
        "audio" if is_recorded_audio(heard) else name
        for heard, name in zip(call.heard, said(call), strict=True)
    ]


async def test_nine_on_a_message_from_an_anonymous_caller_says_so_and_plays_it_again(system):
    await system.api.create_box("3000", pin="1234", is_setup=True, skip_envelope=True)
    left = await system.call("say tone 2s then press #; press 1", leave="3000", caller_number="")
    assert left.ok, left.errors  # stored as `anonymous`, as KAZOO stores it
    # 9 during the message; then the notice, "message", its number, and # during the audio.
    script = f"{LOGIN}; press 1; wait; wait; press 9; wait; wait; wait; press #; press #"
    call = await system.call(script, check="3000")
    assert call.ok, call.errors
    heard = with_audio(call)
    assert heard[heard.index("vm-message") :] == [
        *["vm-message", "say 1", "audio"],  # 9 during the audio
        "unidentified-no-callback",
        *["vm-message", "say 1", "audio"],  # the message again; # during it
        *["vm-youhave", "vm-goodbye"],
    ]
    assert call.variables["VMBOX_RESULT"] == "done"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_with_call_backs_turned_off_nine_is_not_available(tmp_path, driver):
    settings = settings_for(tmp_path, ivr=IvrSettings(callback_enabled=False))
    async with await start(settings, driver) as system:
        await system.api.create_box("3000", pin="1234", is_setup=True, skip_envelope=True)
        await system.call("say tone 2s then press #; press 1", leave="3000", caller_number="555")
        script = f"{LOGIN}; press 1; wait; wait; press 9; wait; wait; wait; press #; press #"
        call = await system.call(script, check="3000")
        assert call.ok, call.errors
        heard = with_audio(call)
        assert heard[heard.index("vm-message") :] == [
            *["vm-message", "say 1", "audio"],
            "feature-not-avail-line",
            *["vm-message", "say 1", "audio"],
            *["vm-youhave", "vm-goodbye"],
        ]
        assert call.variables["VMBOX_RESULT"] == "done"


async def test_first_time_setup_sets_pin_and_greeting(system):
    user = await system.api.put(
        "/users", {"data": {"first_name": "New", "last_name": "Owner", "endpoints": ["PJSIP/1001"]}}
    )
    box = await system.api.create_box("3000", owner_id=user.data["id"])
    # The intro, "PIN changed", the recording instructions and "saved" take no keys: nothing to wait for.
    script = "press 4321#; press 4321#; say tone 3s then press #; press 1; press #"
    call = await system.call(script, check="3000", channel="PJSIP/1001-00000001")
    assert call.ok, call.errors
    assert prompts(call) == [
        "setup_intro",
        "vm-newpassword",
        "vm-reenterpassword",
        "vm-passchanged",
        "vm-rec-unv",
        "beep",
        "vm-review",
        "greeting_saved",
        "setup_complete",
        "vm-youhave",  # cut short by the #
        "vm-goodbye",
    ]  # as KAZOO's wizard: no name step
    fetched = (await system.api.get(f"/vmboxes/{box['id']}")).data
    assert fetched["is_setup"] is True
    assert set(fetched["media"]) == {"unavailable"}
    assert await check_pin(system.running.store.db, box["id"], "4321")
    greeting = await system.api.get(f"/media/{fetched['media']['unavailable']}")
    assert greeting.data["media_source"] == "recording" and 2700 <= greeting.data["length"] <= 3000


async def test_a_temporary_greeting_recorded_by_phone_is_what_callers_hear(system, box):
    call = await system.call(
        f"{LOGIN}; press 5; press 4; say tone 2s then press #; press 1; press 0; press #",
        check="3000",
    )
    assert call.ok, call.errors
    media_id = (await system.api.get(f"/vmboxes/{box['id']}")).data["media"][
        "temporary_unavailable"
    ]
    deposit = await system.call("hangup after 500ms", leave="3000")
    assert is_recorded_audio(deposit.heard[0]) and deposit.heard[0].hung_up
    removed = await system.call(f"{LOGIN}; press 5; press 5; press 0; press #", check="3000")
    assert removed.ok, removed.errors
    assert "vm-tempremoved" in prompts(removed)
    assert (
        "temporary_unavailable" not in (await system.api.get(f"/vmboxes/{box['id']}")).data["media"]
    )
    assert (
        await system.api.get(f"/media/{media_id}")
    ).status == 404  # the phone recording went with it


async def test_six_makes_the_box_announcement_only_and_callers_hear_the_greeting_and_no_beep(
    system, box
):
    """The owner records a greeting and presses 6 (KAZOO's toggle_announcement_mode): "saved" and the
    menu saying so. A caller then hears that greeting and goodbye, and leaves nothing; the owner's next
    login opens the options menu, where 6 turns it off again."""
    script = (
        f"{LOGIN}; press 5; press 1; say tone 2s then press #; press 1; press 6; press 0; press #"
    )
    owner = await system.call(script, check="3000")
    assert owner.ok, owner.errors
    said = prompts(owner)
    assert said[said.index("greeting_saved") :][:4] == [
        "greeting_saved",
        "options_menu",
        "vm-saved",
        "options_menu_announcement_on",
    ]
    assert (await system.api.get(f"/vmboxes/{box['id']}")).data["announcement_only"] is True
    caller = await system.call("", leave="3000", caller_number="5559999")
    assert caller.ok, caller.errors
    assert with_audio(caller) == ["audio", "vm-goodbye"]  # the greeting: no instructions, no beep
    assert caller.variables["VMBOX_RESULT"] == "done"
    assert len(await system.messages(box["id"])) == 1  # the fixture's message only
    again = await system.call(f"{LOGIN}; press 6; press #; press #", check="3000")
    assert again.ok, again.errors
    assert prompts(again)[:4] == [
        "vm-password",
        "options_menu_announcement_on",
        "vm-saved",
        "options_menu",
    ]
    assert (await system.api.get(f"/vmboxes/{box['id']}")).data["announcement_only"] is False


async def test_the_announcement_change_is_stored_or_answered_as_not_made(store, account):
    """The services' side of 6: the box is patched; a box gone meanwhile is answered "not changed"
    (the flow then asks the options menu again), never an error into the call."""
    services = CallServices(store)
    call = CallInfo("call-1", Purpose.CHECK, "3000", account_id=account)
    box = await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})
    assert await services.run(call, SetAnnouncementOnly(box.id, True)) == AnnouncementSet(True)
    assert (await get_vmbox(store.db, account, box.id)).doc["announcement_only"] is True
    assert await services.run(call, SetAnnouncementOnly(box.id, False)) == AnnouncementSet(True)
    assert (await get_vmbox(store.db, account, box.id)).doc["announcement_only"] is False
    assert await services.run(call, SetAnnouncementOnly("0" * 32, True)) == AnnouncementSet(False)


async def test_hanging_up_while_recording_a_greeting_keeps_nothing(system, box):
    call = await system.call(f"{LOGIN}; press 5; press 1; say tone 2s then hangup", check="3000")
    assert call.ok, call.errors
    assert "unavailable" not in (await system.api.get(f"/vmboxes/{box['id']}")).data["media"]
    assert list(system.settings.recordings_dir.iterdir()) == []


async def test_a_callback_call_lands_the_owner_in_the_mailbox(system, box):
    call = await system.call("press #", callback="3000")
    assert call.ok, call.errors
    assert prompts(call)[:1] == ["vm-youhave"]
