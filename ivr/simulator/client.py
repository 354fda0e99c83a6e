"""One simulated call over real TCP: connect to a FastAGI server as Asterisk does, send the agi_
header block, then answer each command line until the server closes the connection (the normal end
of an AGI script), as res_agi.c's run_agi() does.

Time is virtual: a 10 s prompt or a 10 s message takes no real time, so a call runs as fast as the
server answers. What is real is the guard: a server that does not end the call within `timeout`
seconds of real time is an error.

Beyond what the command handler checks, the reading itself fails loudly on: a command sent before the
reply to the previous one was read (Asterisk would abort a playing prompt and never answer it), a line
longer than Asterisk's 2047-byte buffer (Asterisk splits it in two commands, and so does the
simulator), a line that is not UTF-8, a last line without its newline. A line starting with `failure`
ends the AGI as it does in Asterisk. When the server closes, Asterisk's final `HANGUP` line is sent
(best effort), as run_agi() does.
"""

import asyncio
import itertools
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ivr.agi.protocol import header_block
from ivr.simulator.asterisk import MAX_LINE, Asterisk
from ivr.simulator.audio import SoundError, speech
from ivr.simulator.channel import Channel
from ivr.simulator.script import Say, ScriptError, Step, parse_script
from ivr.simulator.transcript import Transcript

DEFAULT_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
DEFAULT_PORT = 4573
AGI_VERSION = "22.10.1"
EXTENSIONS = {"leave": None, "check": "*98", "callback": "s"}  # None: the mailbox number
_channels = itertools.count(1)


def parse_caller_id(text: str) -> tuple[str, str]:
    """(name, number) from `"Name" <1001>`, `Name <1001>`, `<1001>`, `1001` or `Name`."""
    match = re.fullmatch(
        r'\s*(?:"(?P<quoted>[^"]*)"|(?P<plain>[^<]*?))\s*<(?P<number>[^>]*)>\s*', text
    )
    if match:
        return (match["quoted"] if match["quoted"] is not None else match["plain"]).strip(), match[
            "number"
        ].strip()
    text = text.strip()
    return ("", text) if re.fullmatch(r"[0-9+*#-]+", text) else (text.strip('"'), "")


def make_channel(
    script_name: str,
    arguments: Sequence[str],
    caller_number: str,
    caller_name: str,
    channel: str | None,
) -> Channel:
    """The simulated channel: PJSIP/<number>-<sequence> unless a name is given, a unique id as
    Asterisk's (epoch.sequence, unique across processes), the extension the dialplan would be at."""
    sequence = next(_channels)
    extension = EXTENSIONS.get(script_name.partition("?")[0], "s") or (
        arguments[0] if arguments else "s"
    )
    return Channel(
        name=channel or f"PJSIP/{caller_number or 'anonymous'}-{sequence:08x}",
        uniqueid=f"{int(time.time())}.{os.getpid()}{sequence:04d}",
        caller_number=caller_number,
        caller_name=caller_name,
        context="vmbox",
        extension=extension,
    )


def agi_headers(
    host: str, port: int, script_name: str, channel: Channel, language: str = "en"
) -> dict[str, str]:
    """The agi_* variables FastAGI sends, in res_agi.c's order (see protocol.HEADER_ORDER)."""
    return {
        "agi_network": "yes",
        "agi_network_script": script_name,
        "agi_request": f"agi://{host}:{port}/{script_name}",
        "agi_channel": channel.name,
        "agi_language": language,
        "agi_type": channel.name.partition("/")[0],
        "agi_uniqueid": channel.uniqueid,
        "agi_version": AGI_VERSION,
        "agi_callerid": channel.caller_number or "unknown",
        "agi_calleridname": channel.caller_name or "unknown",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": channel.extension,
        "agi_rdnis": "unknown",
        "agi_context": channel.context,
        "agi_extension": channel.extension,
        "agi_priority": "1",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": str(threading.get_ident()),
    }


def _load_speech(steps: Sequence[Step]) -> None:
    """Read (and convert) the caller's audio before the call, so that a bad file fails at once."""
    for step in steps:
        if isinstance(step, Say):
            try:
                speech(step.audio)
            except (SoundError, OSError) as exc:
                raise ScriptError(f"cannot use the audio of `say`: {exc}") from None


async def run_call(
    host: str,
    port: int,
    script: str | Sequence[Step] = "",
    *,
    script_name: str = "leave",
    arguments: Sequence[str] = (),
    caller_number: str = "",
    caller_name: str = "",
    channel: str | None = None,
    sounds_dir: Path = DEFAULT_SOUNDS,
    language: str = "en",
    timeout: float = 30.0,
    strict: bool = True,
    variables: dict[str, str] | None = None,
) -> Transcript:
    """Play one call against the FastAGI server at host:port and return what happened.

    `script` is the caller's script (text or parsed steps); `script_name` and `arguments` are what the
    dialplan's AGI(agi://host/<script_name>,<arguments>) would pass; `variables` are channel variables
    the dialplan set before. With `strict` (the default) a missing sound file is an error, else a
    warning. Raises ScriptError for a bad script or unusable caller audio, OSError when the server
    cannot be reached."""
    steps = parse_script(script) if isinstance(script, str) else tuple(script)
    if any(isinstance(step, Say) for step in steps):
        await asyncio.to_thread(_load_speech, steps)
    call = make_channel(script_name, arguments, caller_number, caller_name, channel)
    asterisk = Asterisk(steps, call, sounds_dir, strict=strict, variables=variables)
    headers = agi_headers(host, port, script_name, call, language)
    asterisk.transcript.headers = headers
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(header_block(headers, list(arguments)))
        async with asyncio.timeout(timeout):
            await _converse(reader, writer, asterisk)
    except TimeoutError:
        last = (
            asterisk.transcript.exchanges[-1].command if asterisk.transcript.exchanges else "none"
        )
        asterisk.error(
            f"the server did not end the call within {timeout:g} s of real time (last command: {last})"
        )
    except ConnectionError as exc:
        asterisk.transcript.warnings.append(f"the connection broke: {exc}")
        asterisk.transcript.closed = True
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    return asterisk.finish()


async def _converse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, asterisk: Asterisk
) -> None:
    """Answer command lines until the server closes the connection, timing each turnaround (from our
    reply, or the header block, to the server's next command line)."""
    pending = b""
    replied = time.perf_counter()
    while True:
        end = pending.find(b"\n")
        if end < 0 and len(pending) < MAX_LINE:
            chunk = await reader.read(65536)
            if not chunk:
                break
            pending += chunk
            continue
        if end < 0 or end >= MAX_LINE:
            raw, pending = pending[:MAX_LINE], pending[MAX_LINE:]
            asterisk.error(
                f"a command line longer than {MAX_LINE} bytes: Asterisk splits it in two commands"
            )
        else:
            raw, pending = pending[:end], pending[end + 1 :]
            asterisk.transcript.turnarounds.append(time.perf_counter() - replied)
            if pending:
                asterisk.error(
                    f"the server sent {pending[:60]!r} before reading the reply to {raw[:60]!r}: "
                    "Asterisk would cut the command short and never answer it"
                )
        if not await _answer(raw, writer, asterisk):
            return
        replied = time.perf_counter()
    if pending:
        asterisk.error(
            f"the connection closed after a command without its newline: {pending[:60]!r}"
        )
        await _answer(pending, writer, asterisk)
    asterisk.transcript.closed = True
    await _send(writer, ["HANGUP\n"])  # run_agi() says HANGUP once more when the script ends


async def _answer(raw: bytes, writer: asyncio.StreamWriter, asterisk: Asterisk) -> bool:
    """Handle one command line; False when Asterisk ends the AGI because of it."""
    try:
        line = raw.decode()
    except UnicodeDecodeError:
        asterisk.error(f"a command line that is not UTF-8: {raw[:60]!r}")
        line = raw.decode(errors="replace")
    if line[:7].lower() == "failure":
        asterisk.error(f"{line!r}: a line starting with 'failure' makes Asterisk end the AGI")
        await _send(writer, ["HANGUP\n"])
        return False
    await _send(writer, asterisk.handle(line))
    return True


async def _send(writer: asyncio.StreamWriter, lines: list[str]) -> None:
    try:
        writer.write("".join(lines).encode())
        await writer.drain()
    except ConnectionError:
        pass  # the server is gone; reading will see the EOF
