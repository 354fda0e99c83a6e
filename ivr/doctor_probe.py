"""The probe call of `vmbox doctor` on a FastAGI set-up: what Asterisk itself reaches, writes and plays.

The doctor originates (AMI) `Local/<its address>:<port>@vmbox-doctor` with VMBOX_AGI = vmbox's
FastAGI address, and the dialplan (asterisk_conf/extensions_vmbox.conf, [vmbox-doctor]) does what a
vmbox call does: `AGI(${VMBOX_AGI}/doctor)`. Its AGISTATUS and VMBOX_RESULT are then handed, by a
second AGI, to the doctor's own FastAGI listener (<its address>:<port>, an IPv4 address: the Local
channel's extension), which looks at Asterisk's side of things through that session:
- the channel's language (CHANNEL(language));
- every core sound vmbox plays, and every prompt vmbox ships (by absolute path, as vmbox plays them):
  STREAM FILE from an offset past any file's end plays nothing; a file Asterisk can open answers
  result=0, one it cannot answers result=-1;
- RECORD FILE into vmbox's recordings directory (0.1 s, no beep): Asterisk writes the file, or
  answers (writefile); vmbox must then find it and read it at the same path.
The call is never answered. Beside a running vmbox serve, vmbox answers the script `doctor` with
VMBOX_RESULT=doctor; without one, the doctor listens on vmbox's FastAGI address itself, in its place.
"""

import asyncio
import contextlib
import errno
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ivr import channel_vars
from ivr.agi.connection import AgiConnection, AgiRequest
from ivr.agi.protocol import command
from ivr.agi.server import FastAgiServer
from ivr.doctor_report import (
    AGI_ADDRESS,
    ASTERISK_WRITES,
    PERMISSIONS,
    SAME_PATH,
    Result,
    failed,
    ok,
)

PAST_THE_END = 1_000_000_000  # a STREAM FILE offset (samples) beyond the end of any sound
RECORD_MS = 100
HEADER_TIMEOUT_S = REPLY_TIMEOUT_S = 10.0
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass
class Findings:
    """What the probe call found on Asterisk's side."""

    agistatus: str  # of AGI(${VMBOX_AGI}/doctor): SUCCESS when Asterisk reached that address
    vmbox_result: str  # VMBOX_RESULT after it: "doctor" is vmbox serve's answer to `doctor`
    language: str = ""
    missing_sounds: list[str] = field(default_factory=list)
    unplayable_prompts: list[str] = field(default_factory=list)
    recording: str = ""  # written | writefile | refused (<reply>) | missing | unreadable (<why>)
    stopped: str = ""  # why the probe could not look at everything (the call dropped)


class Probe:
    """The doctor's FastAGI listeners: in vmbox's place when vmbox serve is not running, and its own."""

    def __init__(self, recordings_dir: Path, sounds: list[str], prompts: dict[str, str]):
        """`prompts`: vmbox's prompt names -> the absolute paths (without .wav) Asterisk plays."""
        self.recordings_dir = recordings_dir
        self.sounds, self.prompts = sounds, prompts
        self.standing_in = False  # listening on vmbox's address in its place
        self.reached_stand_in = False
        self.vmbox_url = ""  # vmbox's FastAGI address, as the probe call's VMBOX_AGI
        # <the doctor's address>:<port>, where the probe call's second AGI goes: Local/<it>@vmbox-doctor
        self.extension = ""
        self._servers: list[FastAgiServer] = []
        self._findings: asyncio.Future | None = None

    async def listen(self, agi_host: str, agi_port: int, own_host: str) -> Result | None:
        """Listen for the probe; `own_host` is this host's address as Asterisk reaches it. A Result
        when vmbox's FastAGI address cannot be listened on (what vmbox serve would fail at too)."""
        self._findings = asyncio.get_running_loop().create_future()
        stand_in = FastAgiServer(self._stand_in)
        try:
            agi_port = (await stand_in.start(agi_host, agi_port))[1]
            self._servers.append(stand_in)
            self.standing_in = True
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:  # in use: vmbox serve, presumably, listens there
                return failed(
                    "FastAGI",
                    f"nothing can listen on vmbox's FastAGI address {agi_host}:{agi_port}"
                    f" ({exc.strerror or exc})",
                    AGI_ADDRESS,
                )
        host = own_host if agi_host in WILDCARDS else agi_host
        self.vmbox_url = f"agi://{f'[{host}]' if ':' in host else host}:{agi_port}"
        probe = FastAgiServer(self._probe, HEADER_TIMEOUT_S, REPLY_TIMEOUT_S)
        self.extension = f"{own_host}:{(await probe.start(own_host, 0))[1]}"
        self._servers.append(probe)
        return None

    async def _stand_in(self, connection: AgiConnection, request: AgiRequest) -> None:
        self.reached_stand_in = True

    async def _probe(self, connection: AgiConnection, request: AgiRequest) -> None:
        status, result = (*request.arguments, "", "")[:2]
        findings = Findings(status, result)
        try:
            await self._look(connection, findings)
        except Exception as exc:  # the call dropped (CallGone, a timeout): say so, keep the rest
            findings.stopped = f"{type(exc).__name__}: {exc}"
        if not self._findings.done():
            self._findings.set_result(findings)

    async def _look(self, connection: AgiConnection, findings: Findings) -> None:
        reply = await connection.send(command("GET FULL VARIABLE", "${CHANNEL(language)}"))
        findings.language = reply.data
        for sound in self.sounds:
            if not await _plays(connection, sound):
                findings.missing_sounds.append(sound)
        for name, path in self.prompts.items():
            if not await _plays(connection, path):
                findings.unplayable_prompts.append(name)
        findings.recording = await self._record(connection)

    async def _record(self, connection: AgiConnection) -> str:
        stem = self.recordings_dir / f"doctor-{secrets.token_hex(6)}"
        reply = await connection.send(command("RECORD FILE", stem, "wav", "", RECORD_MS))
        if reply.data == "writefile":
            return "writefile"
        if reply.number == -1:
            return f"refused ({reply.text})"
        return await asyncio.to_thread(_read_back, stem.with_name(stem.name + ".wav"))

    async def findings(self, ended: asyncio.Future, timeout_s: float) -> Findings | None:
        """What the probe found, once it has looked; None when the probe call ended (`ended`: its
        OriginateResponse) or `timeout_s` passed before it reached the doctor."""
        await asyncio.wait(
            {self._findings, ended}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if not self._findings.done():
            return None
        return self._findings.result()

    async def close(self) -> None:
        for server in self._servers:
            await server.stop()


def _read_back(file: Path) -> str:
    """Whether vmbox finds and reads the file Asterisk recorded (then removed), as Findings.recording."""
    try:
        with open(file, "rb"):
            pass
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    with contextlib.suppress(OSError):
        file.unlink()
    return "written"


async def _plays(connection: AgiConnection, sound: str) -> bool:
    """Whether Asterisk can open `sound` (STREAM FILE past its end: nothing is heard)."""
    reply = await connection.send(command("STREAM FILE", sound, "", PAST_THE_END))
    return reply.number == 0


def fastagi_result(probe: Probe, findings: Findings) -> Result:
    """Whether Asterisk reached vmbox's FastAGI address, and what answered there."""
    url, status = probe.vmbox_url, findings.agistatus
    if probe.standing_in and probe.reached_stand_in:
        return ok(
            "FastAGI",
            f"Asterisk reached {url} (vmbox serve is not running: the doctor listened there in its"
            " place)",
        )
    if status == "SUCCESS" and findings.vmbox_result == channel_vars.DOCTOR:
        return ok("FastAGI", f"Asterisk reached vmbox serve at {url}")
    if status == "SUCCESS":
        return failed(
            "FastAGI",
            f"Asterisk reached {url}, but what answered there is not vmbox serve"
            f" (VMBOX_RESULT={findings.vmbox_result!r})",
            AGI_ADDRESS,
        )
    return failed(
        "FastAGI", f"Asterisk could not reach vmbox at {url} (AGISTATUS={status})", AGI_ADDRESS
    )


def recordings_result(recordings_dir: Path, findings: Findings) -> Result:
    """Whether a file Asterisk records into the recordings directory is there for vmbox."""
    outcome = findings.recording
    if outcome == "written":
        return ok(
            "recordings", f"Asterisk wrote a recording into {recordings_dir} and vmbox read it"
        )
    if outcome == "writefile":
        return failed(
            "recordings",
            f"Asterisk cannot create a file in {recordings_dir} (RECORD FILE: writefile): the directory"
            " is missing on Asterisk's side, or Asterisk may not write it",
            ASTERISK_WRITES,
        )
    if outcome.startswith("refused"):
        return failed(
            "recordings",
            f"Asterisk could not record into {recordings_dir}: RECORD FILE {outcome}",
            ASTERISK_WRITES,
        )
    if outcome == "missing":
        return failed(
            "recordings",
            f"Asterisk wrote a recording into {recordings_dir}, but vmbox does not find it there: the"
            " path does not name the same directory for both",
            SAME_PATH,
        )
    return failed(
        "recordings",
        f"vmbox cannot read the recording Asterisk wrote into {recordings_dir}: {outcome}",
        PERMISSIONS,
    )
