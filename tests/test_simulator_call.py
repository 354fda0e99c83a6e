"""The call simulator over real TCP on loopback: `run_call` and `vmbox call` against a tiny scripted
FastAGI server written here, which reads the header block, sends a fixed list of commands one at a
time, and keeps every line it gets back, so the tests can assert the exact bytes Asterisk's side sent.
"""

import asyncio
import re
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ivr.agi.protocol import HEADER_ORDER, command
from ivr.simulator import DEFAULT_SOUNDS, ScriptError, run_call

SCRIPT = Path(sys.executable).with_name("vmbox")
VMBOX = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "ivr.cli"]
FINAL = re.compile(
    r"\d{3} "
)  # a reply's last line: "200 ...", "510 ...", "520 End of proper usage."


def length(name: str) -> int:
    with wave.open(str(DEFAULT_SOUNDS / f"{name}.wav")) as wav:
        return wav.getnframes()


@dataclass
class Conversation:
    headers: list[tuple[str, str]] = field(default_factory=list)
    replies: list[list[str]] = field(
        default_factory=list
    )  # per command, every line up to its reply
    after: str = ""  # what came after the server closed its side
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FakeVmbox:
    """A scripted FastAGI server: sends `commands` (whole lines, or several lines at once), reading a
    complete reply after each; then closes its side and reads what is left until Asterisk's EOF."""

    def __init__(self, commands: list[str | bytes], close: bool = True):
        self.commands = commands
        self.close = close
        self.conversation = Conversation()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._call, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self.server.close()
        await self.server.wait_closed()

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        talk = self.conversation
        try:
            while (line := (await reader.readline()).decode()) != "\n":
                name, _, value = line.rstrip("\n").partition(": ")
                talk.headers.append((name, value))
            for line in self.commands:
                writer.write(line if isinstance(line, bytes) else line.encode())
                await writer.drain()
                talk.replies.append(await self._reply(reader))
            if self.close:
                writer.write_eof()
                talk.after = (await reader.read()).decode()
            else:
                await reader.read()  # never answers: the simulator must give up on its own
        finally:
            talk.done.set()
            writer.close()

    @staticmethod
    async def _reply(reader: asyncio.StreamReader) -> list[str]:
        lines = []
        while not lines or not FINAL.match(lines[-1]):
            line = (await reader.readline()).decode()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        return lines


async def test_a_deposit_gets_asterisks_exact_replies(tmp_path):
    path = tmp_path / "msg"
    commands = [
        command("ANSWER"),
        command("STREAM FILE", "vm-intro", "#"),
        command("RECORD FILE", path, "wav", "0123456789*#", 500000, "BEEP", "s=5"),
        command("SET VARIABLE", "VMBOX_RESULT", "done"),
        command("HANGUP"),
    ]
    async with FakeVmbox(commands) as vmbox:
        transcript = await run_call(
            "127.0.0.1",
            vmbox.port,
            "wait; say tone 4s then press #",
            script_name="leave",
            arguments=["1001", "account=abc"],
            caller_number="1002",
            caller_name="Alice",
        )
        await vmbox.conversation.done.wait()
    talk = vmbox.conversation
    assert talk.replies == [
        ["200 result=0"],
        [f"200 result=0 endpos={length('vm-intro')}"],
        ["200 result=35 (dtmf) endpos=30400"],
        ["200 result=1"],
        ["200 result=1"],
    ]
    assert (
        talk.after == "HANGUP\nHANGUP\n"
    )  # after the server's HANGUP, then when the AGI script ends
    with wave.open(str(path) + ".wav") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.getnframes()) == (
            8000,
            2,
            1,
            30400,
        )
    assert transcript.ok, transcript.errors
    assert transcript.closed and transcript.server_hung_up and not transcript.caller_hung_up
    assert [heard.prompt for heard in transcript.heard] == ["vm-intro", "beep"]
    assert transcript.keys == "#"
    assert transcript.variables == {"VMBOX_RESULT": "done"}
    assert (
        transcript.recordings[0].path == str(path) + ".wav"
        and transcript.recordings[0].seconds == 3.8
    )


async def test_the_header_block_is_asterisks(tmp_path):
    async with FakeVmbox([]) as vmbox:
        transcript = await run_call(
            "127.0.0.1",
            vmbox.port,
            script_name="check?mailbox=1001",
            arguments=["account=abc"],
            caller_number="1002",
            caller_name='Al "Bo"',
        )
        await vmbox.conversation.done.wait()
    headers = vmbox.conversation.headers
    assert [name for name, _ in headers] == list(HEADER_ORDER) + ["agi_arg_1"]
    values = dict(headers)
    assert values["agi_network_script"] == "check?mailbox=1001"  # verbatim, as Asterisk sends it
    assert values["agi_request"] == f"agi://127.0.0.1:{vmbox.port}/check?mailbox=1001"
    assert re.fullmatch(r"PJSIP/1002-[0-9a-f]{8}", values["agi_channel"])
    assert re.fullmatch(r"\d+\.\d+", values["agi_uniqueid"])
    assert (values["agi_callerid"], values["agi_calleridname"]) == ("1002", 'Al "Bo"')
    assert (values["agi_version"], values["agi_language"], values["agi_type"]) == (
        "22.10.1",
        "en",
        "PJSIP",
    )
    assert (values["agi_rdnis"], values["agi_priority"], values["agi_enhanced"]) == (
        "unknown",
        "1",
        "0.0",
    )
    assert values["agi_accountcode"] == "" and values["agi_arg_1"] == "account=abc"
    assert transcript.ok and transcript.closed and transcript.commands == 0
    assert vmbox.conversation.after == "HANGUP\n"


async def test_an_anonymous_caller_is_unknown():
    async with FakeVmbox([]) as vmbox:
        await run_call("127.0.0.1", vmbox.port, channel="PJSIP/trunk-0000002a")
        await vmbox.conversation.done.wait()
    values = dict(vmbox.conversation.headers)
    assert (values["agi_callerid"], values["agi_calleridname"]) == ("unknown", "unknown")
    assert values["agi_channel"] == "PJSIP/trunk-0000002a"


async def test_a_hangup_between_commands_and_one_during_a_wait():
    commands = [
        command("STREAM FILE", "vm-goodbye", ""),
        command("WAIT FOR DIGIT", 5000),
        command("STREAM FILE", "vm-goodbye", ""),
        command("SET VARIABLE", "VMBOX_RESULT", "done"),
    ]
    async with FakeVmbox(commands) as vmbox:
        transcript = await run_call("127.0.0.1", vmbox.port, "hangup after 3s")
        await vmbox.conversation.done.wait()
    assert vmbox.conversation.replies == [
        [f"200 result=0 endpos={length('vm-goodbye')}"],
        ["200 result=-1"],
        ["HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"],
        ["200 result=1"],
    ]
    assert transcript.ok and transcript.caller_hung_up


async def test_get_data_over_tcp_digits_timeout_and_hangup():
    commands = [
        command("ANSWER"),
        command("GET DATA", "vm-login", 3000, 10),
        command("GET DATA", "vm-password", 2000),
        command("GET DATA", "vm-login", 3000),
        command("GET DATA", "vm-login"),
        command("SET VARIABLE", "VMBOX_RESULT", "done"),
    ]
    async with FakeVmbox(commands) as vmbox:
        transcript = await run_call(
            "127.0.0.1",
            vmbox.port,
            "press 1 after 0.5s; press 0 0 1 #; press 4 2; wait; hangup after 1s",
            script_name="check",
        )
        await vmbox.conversation.done.wait()
    talk = vmbox.conversation
    assert talk.replies == [
        ["200 result=0"],
        ["200 result=1001"],
        ["200 result=42 (timeout)"],
        ["200 result=-1"],
        ["HANGUP", "511 Command Not Permitted on a dead channel or intercept routine"],
        ["200 result=1"],
    ]
    assert talk.after == "HANGUP\n"  # when the AGI script ends
    assert transcript.ok, transcript.errors
    assert transcript.caller_hung_up and transcript.closed
    assert transcript.keys == "1001#42"
    assert [
        (heard.prompt, heard.seconds, heard.cut_by, heard.hung_up) for heard in transcript.heard
    ] == [
        ("vm-login", 0.5, "1", False),
        ("vm-password", 0.0, "4", False),
        ("vm-login", 1.0, None, True),
    ]
    assert transcript.call_seconds == 0.5 + 2.0 + 1.0


async def test_a_multi_line_520_and_an_unknown_command_fail_the_call():
    async with FakeVmbox(["RECORD FILE /tmp/x wav\n", "DANCE\n"]) as vmbox:
        transcript = await run_call("127.0.0.1", vmbox.port)
        await vmbox.conversation.done.wait()
    usage, unknown = vmbox.conversation.replies
    assert (
        usage[0] == "520-Invalid command syntax.  Proper usage follows:"
        and usage[-1] == "520 End of proper usage."
    )
    assert len(usage) == 3 and unknown == ["510 Invalid or unknown command"]
    assert not transcript.ok and len(transcript.errors) == 2


async def test_a_command_sent_before_the_reply_was_read_is_an_error():
    async with FakeVmbox([command("ANSWER") + command("NOOP")]) as vmbox:
        transcript = await run_call("127.0.0.1", vmbox.port)
        await vmbox.conversation.done.wait()
    assert vmbox.conversation.replies == [["200 result=0"]]
    assert vmbox.conversation.after == "200 result=0\nHANGUP\n"
    assert "before reading the reply" in transcript.errors[0]


async def test_garbage_lines_too_long_lines_and_a_missing_last_newline():
    async with FakeVmbox([b"\xff\xfe junk\n", "NOOP " + "x" * 3000 + "\n", "NOOP"]) as vmbox:
        transcript = await run_call("127.0.0.1", vmbox.port)
        await vmbox.conversation.done.wait()
    assert vmbox.conversation.replies[0] == ["510 Invalid or unknown command"]
    assert vmbox.conversation.replies[1] == ["200 result=0"]  # the first 2047 bytes were a NOOP...
    assert vmbox.conversation.replies[2] == [
        "510 Invalid or unknown command"
    ]  # ...the rest is another command
    assert (
        vmbox.conversation.after == "200 result=0\nHANGUP\n"
    )  # the NOOP without newline, answered at EOF
    assert any("not UTF-8" in error for error in transcript.errors)
    assert any("longer than 2047" in error for error in transcript.errors)
    assert any("without its newline" in error for error in transcript.errors)


async def test_a_server_that_never_ends_the_call_fails_it_within_the_timeout():
    async with FakeVmbox([command("ANSWER")], close=False) as vmbox:
        transcript = await run_call("127.0.0.1", vmbox.port, timeout=0.3)
        await vmbox.conversation.done.wait()
    assert not transcript.closed
    assert transcript.errors == [
        "the server did not end the call within 0.3 s of real time (last command: ANSWER)"
    ]


async def test_unreachable_servers_and_bad_scripts_raise():
    async with FakeVmbox([]) as vmbox:
        port = vmbox.port
    with pytest.raises(OSError):
        await run_call("127.0.0.1", port)
    with pytest.raises(ScriptError, match="unknown step"):
        await run_call("127.0.0.1", port, "dance")
    with pytest.raises(ScriptError, match="cannot use the audio"):
        await run_call("127.0.0.1", port, "say /no/such/file.wav")


# `vmbox call`, run for real.


async def vmbox_call(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *VMBOX, "call", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_vmbox_call_prints_what_the_caller_hears(tmp_path):
    commands = [
        command("ANSWER"),
        command("STREAM FILE", "vm-intro", "0123456789*#"),
        command("SAY NUMBER", 42, ""),
        command("WAIT FOR DIGIT", 2000),
        command("RECORD FILE", tmp_path / "msg", "wav", "#", 60000, "BEEP", "s=3"),
        command("SET VARIABLE", "VMBOX_RESULT", "done"),
    ]
    async with FakeVmbox(commands) as vmbox:
        status, out, err = await vmbox_call(
            "--port",
            str(vmbox.port),
            "--leave",
            "1001",
            "--account",
            "abc",
            "--caller-id",
            '"Alice" <1002>',
            "--script",
            "press 1 after 0.7s; silence; say tone 2s",
        )
        await vmbox.conversation.done.wait()
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "hears    vm-intro  0.70 s  (cut by 1)",
        "presses  1",
        f"hears    SAY NUMBER 42 (digits/40 digits/2)  {(length('digits/40') + length('digits/2')) / 8000:.2f} s",
        "waits    2.00 s, presses nothing",
        f"hears    beep  {length('beep') / 8000:.2f} s",
        f"records  3.02 s (ended by silence)  {tmp_path / 'msg'}.wav",
        "variable VMBOX_RESULT=done",
        out.splitlines()[-1],
    ]
    assert re.fullmatch(
        r"call ok: 6 command\(s\), [\d.]+ s of call time, the server closed the connection",
        out.splitlines()[-1],
    )
    assert dict(vmbox.conversation.headers)["agi_arg_2"] == "account=abc"


async def test_vmbox_call_verbose_and_failing_calls():
    async with FakeVmbox(
        [command("ANSWER"), command("STREAM FILE", "vm-nosuchprompt", "")]
    ) as vmbox:
        status, out, _ = await vmbox_call("--port", str(vmbox.port), "--check", "--verbose")
        await vmbox.conversation.done.wait()
    assert status == 1
    lines = out.splitlines()
    assert lines[:4] == [
        "  > ANSWER",
        "  < 200 result=0",
        '  > STREAM FILE "vm-nosuchprompt" ""',
        "  < 200 result=-1 endpos=0",
    ]
    assert lines[4] == "hears    vm-nosuchprompt  0.00 s  (could not be played)"
    assert lines[5].startswith("ERROR: sound 'vm-nosuchprompt' not found")
    assert lines[6].startswith("call FAILED (1 error(s))")
    assert dict(vmbox.conversation.headers)["agi_network_script"] == "check"
    assert "agi_arg_1" not in dict(vmbox.conversation.headers)


async def test_vmbox_call_exit_statuses_for_bad_scripts_and_unreachable_servers(tmp_path):
    async with FakeVmbox([]) as vmbox:
        port = str(vmbox.port)
    status, out, err = await vmbox_call(
        "--port", port, "--leave", "1001", "--script", "press 1 after soon"
    )
    assert (status, out) == (2, "") and "not a duration" in err
    status, _, err = await vmbox_call(
        "--port", port, "--leave", "1001", "--script-file", str(tmp_path / "none")
    )
    assert status == 2 and "No such file" in err
    status, _, err = await vmbox_call("--port", port, "--leave", "1001")
    assert status == 1 and f"cannot reach a FastAGI server at 127.0.0.1:{port}" in err
    status, _, err = await vmbox_call("--port", port)
    assert (
        status == 2 and "one of the arguments --leave --check --login --callback is required" in err
    )


async def test_vmbox_call_reads_a_script_file_with_audio_next_to_it(tmp_path):
    with wave.open(str(tmp_path / "hello.wav"), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(b"\x00\x40" * 8000)
    (tmp_path / "caller.txt").write_text(
        "# a caller who speaks, then presses #\nsay hello.wav then press #\n"
    )
    async with FakeVmbox([command("RECORD FILE", tmp_path / "msg", "wav", "#", -1)]) as vmbox:
        status, out, _ = await vmbox_call(
            "--port",
            str(vmbox.port),
            "--callback",
            "1001",
            "--script-file",
            str(tmp_path / "caller.txt"),
        )
        await vmbox.conversation.done.wait()
    assert status == 0, out
    assert vmbox.conversation.replies == [["200 result=35 (dtmf) endpos=6400"]]
