"""Leaving messages end to end: the simulator calls the real FastAGI server; the result is checked
through the REST API and on disk."""

import wave

import pytest

from ivr.calls import describe_call
from tests.callkit import DRIVERS, said, settings_for, start


@pytest.fixture(params=DRIVERS)
async def system(request, tmp_path, store_url):
    async with await start(settings_for(tmp_path, store_url), request.param) as running:
        yield running


@pytest.fixture
async def agi_system(tmp_path):
    """For what only FastAGI has (its header block, `vmbox call`, a connection played by hand)."""
    async with await start(settings_for(tmp_path), "agi") as running:
        yield running


async def a_box(system):
    return await system.api.create_box("3000", pin="1234", timezone="Europe/Paris")


@pytest.fixture
async def box(system):
    return await a_box(system)


@pytest.fixture
async def agi_box(agi_system):
    return await a_box(agi_system)


async def test_a_caller_leaves_a_message(system, box):
    call = await system.call(
        "say tone 4s then press #; press 1",
        leave="3000",
        caller_number="5551234",
        caller_name="Bob Builder",
    )
    assert call.ok, call.errors
    assert said(call)[:4] == ["vm-theperson", "say 3 0 0 0", "vm-isunavail", "vm-intro"]
    assert call.variables["VMBOX_RESULT"] == "done" and call.server_hung_up
    [message] = await system.messages(box["id"])
    assert message["folder"] == "new"
    assert message["caller_id_number"] == "5551234" and message["caller_id_name"] == "Bob Builder"
    # As KAZOO's: the caller and the box as addresses in the account's realm (`default`'s: default.vmbox).
    assert (message["from"], message["to"]) == ("5551234@default.vmbox", "3000@default.vmbox")
    fetched = (await system.api.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}")).data
    assert (fetched["from_user"], fetched["from_realm"]) == ("5551234", "default.vmbox")
    assert (fetched["to_user"], fetched["to_realm"]) == ("3000", "default.vmbox")
    assert 3700 <= message["length"] <= 4000  # 4 s, the last 200 ms trimmed by Asterisk
    raw = await system.api.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}/raw")
    assert (
        raw.status == 200 and raw.headers["Content-Type"] == "audio/mpeg" and len(raw.body) > 1000
    )


async def test_the_recording_leaves_the_shared_directory(system, box):
    await system.call("say tone 2s then press #; press 1", leave="3000")
    assert list(system.settings.recordings_dir.iterdir()) == []
    [message] = await system.messages(box["id"])
    stored = list((system.settings.data_dir / "media").glob("*/*.wav"))
    assert len(stored) == 1
    with wave.open(str(stored[0])) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)


async def test_an_unknown_mailbox_is_told_and_nothing_kept(system, box):
    call = await system.call("", leave="4999")
    assert call.ok, call.errors
    assert said(call) == ["vm-nobodyavail", "vm-goodbye"]
    assert await system.messages(box["id"]) == []


@pytest.mark.parametrize(
    "script, kept",
    [
        ("hangup", False),  # during the greeting
        ("say tone 3s then hangup", True),  # during the recording
        ("say tone 3s then press #; hangup", True),  # during the review menu
        ("say tone 3s then press #; press 2; hangup after 1s", True),  # listening to the recording
        ("say tone 3s then press #; press 1; hangup", True),  # while "saved, goodbye" plays
        ("say tone 300ms then hangup", False),  # too short to be a message
    ],
)
async def test_hanging_up_at_each_step_of_a_deposit(system, box, script, kept):
    call = await system.call(script, leave="3000")
    assert call.ok, call.errors
    assert call.caller_hung_up
    messages = await system.messages(box["id"])
    assert len(messages) == (1 if kept else 0)
    assert list(system.settings.recordings_dir.iterdir()) == []  # nothing left behind either way


async def test_a_too_short_message_goes_to_the_review_and_can_be_recorded_again(system, box):
    call = await system.call(
        "say tone 300ms then press #; press 1; press 3; say tone 2s then press #; press 1",
        leave="3000",
    )
    assert call.ok, call.errors
    assert said(call)[4:] == [
        "beep",
        "vm-review",
        "vm-tooshort",  # 1 on a recording too short to keep; then the review, cut short by 3
        "beep",
        "vm-review",
        "vm-msgsaved",
        "vm-goodbye",
    ]
    [message] = await system.messages(box["id"])
    assert 1700 <= message["length"] <= 2000
    assert list(system.settings.recordings_dir.iterdir()) == []  # the short take went too


async def test_a_too_short_message_left_unreviewed_is_dropped_and_the_caller_told(system, box):
    call = await system.call("say tone 300ms then press #; wait; wait; wait; wait", leave="3000")
    assert call.ok, call.errors
    assert said(call)[4:] == ["beep", *["vm-review"] * 4, "vm-tooshort", "vm-goodbye"]
    assert await system.messages(box["id"]) == []
    assert list(system.settings.recordings_dir.iterdir()) == []


async def test_a_box_s_max_message_length_limits_the_recording(system, box):
    await system.api.patch(f"/vmboxes/{box['id']}", {"data": {"max_message_length": 3}})
    call = await system.call("say tone 10s; press 1", leave="3000")
    assert call.ok, call.errors
    [message] = await system.messages(box["id"])
    assert 2700 <= message["length"] <= 3000


async def test_the_dialplan_s_max_message_length_wins_over_the_box_s(system, box):
    await system.api.patch(f"/vmboxes/{box['id']}", {"data": {"max_message_length": 30}})
    call = await system.call(
        "say tone 10s; press 1", leave="3000", parameters={"max_message_length": "2"}
    )
    assert call.ok, call.errors
    [message] = await system.messages(box["id"])
    assert 1700 <= message["length"] <= 2000


async def test_max_message_length_must_be_a_positive_whole_number(system, box):
    for value in (0, "30", 2.5):
        reply = await system.api.patch(
            f"/vmboxes/{box['id']}", {"data": {"max_message_length": value}}
        )
        assert reply.status == 400 and "max_message_length" in reply.body["data"], value


@pytest.mark.parametrize(
    "given, limit",
    [("20", 20), ("", None), ("0", None), ("-5", None), ("ten", None), ("²", None)],
)
def test_the_dialplan_s_max_message_length_is_a_positive_number_of_seconds(given, limit):
    info = describe_call("1.1", "leave", ["3000"], {"max_message_length": given}, "1", "", "")
    assert info.max_message_s == limit
    assert describe_call("1.1", "leave", ["3000"], {}, "1", "", "").max_message_s is None


async def test_rerecording_keeps_only_the_second_take(system, box):
    call = await system.call(
        "say tone 2s then press #; press 3; say tone 5s then press #; press 1", leave="3000"
    )
    assert call.ok, call.errors
    [message] = await system.messages(box["id"])
    assert message["length"] > 4000


async def test_quotes_and_backslashes_in_caller_id_are_kept_as_text(system, box):
    hostile = 'Eve "the \\ quoter" \'; HANGUP'
    call = await system.call(
        "say tone 2s then press #; press 1", leave="3000", caller_name=hostile, caller_number='1"23'
    )
    assert call.ok, call.errors
    assert set(call.variables) == {"VMBOX_RESULT"}
    [message] = await system.messages(box["id"])
    assert message["caller_id_name"] == hostile[:35] and message["caller_id_number"] == '1"23'


async def test_a_newline_smuggled_into_caller_id_gets_the_call_refused_not_injected(
    agi_system, agi_box
):
    # FastAGI only: over ARI caller ID travels as a JSON string: a newline cannot inject anything.
    hostile = "Eve\nagi_network_script: check\nagi_arg_1: 3000"
    call = await agi_system.call(
        "say tone 2s then press #; press 1", leave="3000", caller_name=hostile
    )
    assert call.closed and call.commands == 0 and call.variables == {}
    assert await agi_system.messages(agi_box["id"]) == []
    assert (
        await agi_system.call("say tone 2s then press #; press 1", leave="3000")
    ).ok  # others still served


async def test_a_full_box_records_nothing(system, box):
    await system.api.patch(f"/vmboxes/{box['id']}", {"data": {"max_message_count": 1}})
    await system.call("say tone 2s then press #; press 1", leave="3000")
    call = await system.call("", leave="3000")
    assert call.ok, call.errors
    assert said(call)[-2:] == ["vm-mailboxfull", "vm-goodbye"]
    assert not call.recordings
    assert len(await system.messages(box["id"])) == 1


async def test_zero_reaches_the_operator(system, box):
    await system.api.patch(f"/vmboxes/{box['id']}", {"data": {"operator_number": "100"}})
    call = await system.call("press 0", leave="3000")
    assert call.ok, call.errors
    assert (
        call.variables["VMBOX_RESULT"] == "operator"
        and call.variables["VMBOX_DESTINATION"] == "100"
    )
    assert not call.server_hung_up  # the dialplan continues


async def test_a_relative_data_dir_still_gives_asterisk_absolute_paths(tmp_path, monkeypatch):
    from ivr.config import AgiSettings, ApiSettings, Settings, StoreSettings

    monkeypatch.chdir(tmp_path)
    settings = Settings(
        store=StoreSettings(data_dir="relative-data"),
        api=ApiSettings(port=0),
        agi=AgiSettings(port=0),
    )
    async with await start(settings, "agi") as system:
        await system.api.create_box("3000")
        call = await system.call("say tone 2s then press #; press 1", leave="3000")
        assert call.ok, (
            call.errors
        )  # the simulator refuses relative RECORD FILE and STREAM FILE paths
        assert len(await system.messages((await system.api.get("/vmboxes")).data[0]["id"])) == 1


async def vmbox_call(system, *arguments: str) -> tuple[int, str]:
    import asyncio
    import sys

    host, port = system.running.agi_address
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ivr.cli",
        "call",
        "--host",
        host,
        "--port",
        str(port),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode() + err.decode()


async def test_vmbox_call_leaves_a_message_and_prints_what_the_caller_hears(agi_system, agi_box):
    # FastAGI only: vmbox call speaks FastAGI.
    code, output = await vmbox_call(
        agi_system,
        "--leave",
        "3000",
        "--caller-id",
        '"Bob" <5551234>',
        "--script",
        "say tone 2s then press #; press 1",
    )
    assert code == 0, output
    assert "hears    vm-msgsaved" in output and "call ok" in output
    [message] = await agi_system.messages(agi_box["id"])
    assert message["caller_id_name"] == "Bob"


async def test_vmbox_call_login_asks_the_mailbox(agi_system, agi_box):
    # FastAGI only: vmbox call speaks FastAGI.
    code, output = await vmbox_call(
        agi_system, "--login", "--script", "press 3000#; press 1234#; press #"
    )
    assert code == 0, output
    assert output.index("enter_mailbox") < output.index("vm-password") < output.index("vm-goodbye")


async def test_asterisk_dropping_the_connection_mid_recording_keeps_the_message(
    agi_system, agi_box
):
    """A hand-played Asterisk: answers everything until RECORD FILE, writes 3 s of audio where it was
    told, then the connection drops without a reply (Asterisk restarted, a network cut). Over ARI: see
    test_the_events_websocket_dropping_mid_recording_keeps_the_message."""
    # FastAGI only: a hand-played FastAGI session.
    import asyncio

    from ivr.agi.protocol import header_block, split_command

    host, port = agi_system.running.agi_address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        header_block(
            {
                "agi_network": "yes",
                "agi_network_script": "leave",
                "agi_uniqueid": "9.9",
                "agi_callerid": "5550000",
                "agi_channel": "PJSIP/x-1",
            },
            ["3000"],
        )
    )
    while True:
        words = split_command((await reader.readline()).decode())
        if words[:2] == ["RECORD", "FILE"]:
            with wave.open(words[2] + ".wav", "wb") as audio:
                audio.setnchannels(1)
                audio.setsampwidth(2)
                audio.setframerate(8000)
                audio.writeframes(b"\x10\x00" * 24000)
            writer.write_eof()  # the server reads EOF where the reply should be: the connection is gone
            break
        writer.write(b"200 result=0 endpos=100\n" if words[0] == "STREAM" else b"200 result=0\n")
    assert (
        await reader.read() == b""
    )  # the server closes its side once it has finished with the call
    writer.close()
    [message] = await agi_system.messages(agi_box["id"])
    assert message["caller_id_number"] == "5550000" and 2900 <= message["length"] <= 3000
