"""`vmbox doctor` over AMI: a small client that shows Asterisk's answers as they are, and the checks
made with it, as vmbox's [ami] user and with nothing that user lacks.

The client is not vmbox's AmiLink (ivr/notify/ami.py): the doctor needs the answers AmiLink turns into
retries, such as why a login was refused and which actions the user may send.

What each check asks, and the right it needs:
- Login (any user), `Events: call` as vmbox logs in;
- ListCommands (any user): the actions the user may send. Originate is there with write = originate;
  Setvar (core, a `call` action) with write = call; MWIUpdate and MWIDelete only when
  res_mwi_external_ami is loaded too; VoicemailUsersList when app_voicemail is loaded;
- Getvar of DIALPLAN_EXISTS(<context>) (write = call): whether a context is in the dialplan;
- Originate into a context (write = originate) and its OriginateResponse event (read = call).
"""

import asyncio
import itertools

from ivr.config import AmiSettings
from ivr.doctor_report import (
    AMI_ENABLED,
    AMI_SECRET,
    LOAD_MWI_AMI,
    NOLOAD_VOICEMAIL,
    WRITE_CALL,
    WRITE_ORIGINATE,
    Result,
    failed,
    ok,
    skipped,
)

CONNECT_TIMEOUT_S = 10.0
ACTION_TIMEOUT_S = 10.0

Message = dict[str, str]


class AmiRefused(Exception):
    """Asterisk answered an action with `Response: Error`; the message is Asterisk's."""


class AmiClient:
    """One AMI connection: actions answered by ActionID, events awaited by what they hold."""

    def __init__(self):
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future] = {}
        self._waiting: list[tuple[dict[str, str], asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def connect(self, host: str, port: int) -> None:
        """Connect and read Asterisk's greeting. Raises OSError, TimeoutError."""
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
        )
        greeting = await asyncio.wait_for(self._reader.readline(), CONNECT_TIMEOUT_S)
        if not greeting.startswith(b"Asterisk Call Manager"):
            raise OSError(f"not Asterisk's AMI (it said {greeting[:60]!r})")
        self._task = asyncio.get_running_loop().create_task(self._read())

    @property
    def local_address(self) -> str:
        """This end's IP address: one Asterisk can reach this host at."""
        return self._writer.get_extra_info("sockname")[0]

    async def action(self, name: str, action_id: str = "", **headers: str | list[str]) -> Message:
        """Send an action (with `action_id`, or one of ours); its response. Raises AmiRefused
        (Response: Error), OSError, TimeoutError, ValueError (a line break in a value: it would
        smuggle headers into the action)."""
        action_id = action_id or f"doctor-{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            lines += [f"{key}: {item}" for item in (value if isinstance(value, list) else [value])]
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError(f"an AMI header of {name} holds a line break")
        reply = asyncio.get_running_loop().create_future()
        self._replies[action_id] = reply
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = await asyncio.wait_for(reply, ACTION_TIMEOUT_S)
        if response.get("Response") == "Error":
            raise AmiRefused(response.get("Message", "refused"))
        return response

    async def originate(
        self, channel: str, context: str, exten: str, variables: dict[str, str]
    ) -> asyncio.Future:
        """Place a call (Async: true); the future of its OriginateResponse. Raises AmiRefused, OSError,
        TimeoutError."""
        action_id = f"doctor-{next(self._ids)}"
        response = self.event(Event="OriginateResponse", ActionID=action_id)
        try:
            await self.action(
                "Originate",
                action_id,
                Channel=channel,
                Context=context,
                Exten=exten,
                Priority="1",
                Timeout="30000",
                Async="true",
                Variable=[f"{name}={value}" for name, value in variables.items()],
            )
        except BaseException:
            response.cancel()
            raise
        return response

    def event(self, **fields: str) -> asyncio.Future:
        """The future of the next event that holds all of `fields`."""
        found = asyncio.get_running_loop().create_future()
        self._waiting.append((fields, found))
        return found

    async def _read(self) -> None:
        block: Message = {}
        try:
            while line := await self._reader.readline():
                text = line.decode(errors="replace").rstrip("\r\n")
                if text:
                    key, _, value = text.partition(":")
                    block[key.strip()] = value.strip()
                    continue
                self._deliver(block)
                block = {}
        finally:
            gone = ConnectionResetError("the AMI connection closed")
            for future in [*self._replies.values(), *(f for _, f in self._waiting)]:
                if not future.done():
                    future.set_exception(gone)

    def _deliver(self, block: Message) -> None:
        if "Event" in block:
            for fields, found in self._waiting:
                if not found.done() and all(block.get(k) == v for k, v in fields.items()):
                    found.set_result(block)
        elif (reply := self._replies.pop(block.get("ActionID", ""), None)) and not reply.done():
            reply.set_result(block)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def log_in(settings: AmiSettings) -> tuple[Result, AmiClient | None]:
    """Log in as vmbox does; the result and, when logged in, the connection."""
    where = f"{settings.host}:{settings.port}"
    ami = AmiClient()
    try:
        await ami.connect(settings.host, settings.port)
        await ami.action("Login", Username=settings.username, Secret=settings.secret, Events="call")
    except AmiRefused as exc:
        await ami.close()
        return failed(
            "AMI login",
            f"Asterisk at {where} refused the login as {settings.username!r} ({exc}): the secret"
            " differs from manager_vmbox.conf's, or the user's permit leaves this host out",
            AMI_SECRET,
        ), None
    except (OSError, TimeoutError) as exc:
        await ami.close()
        reason = str(exc) or type(exc).__name__
        return failed(
            "AMI login", f"cannot reach Asterisk's AMI at {where} ({reason})", AMI_ENABLED
        ), None
    return ok("AMI login", f"logged in to {where} as {settings.username!r}"), ami


async def allowed_actions(ami: AmiClient) -> set[str]:
    """The actions the logged-in user may send (ListCommands)."""
    listed = await ami.action("ListCommands")
    return {name for name in listed if name not in ("Response", "ActionID", "Message")}


def rights(actions: set[str], username: str, originate: bool) -> Result:
    """Whether the user may send what vmbox sends: Originate (when `originate`), and call actions."""
    if originate and "Originate" not in actions:
        return failed(
            "AMI rights",
            f"{username!r} may not send Originate (callback calls, the doctor's probe call)",
            WRITE_ORIGINATE,
        )
    if "Setvar" not in actions:
        return failed(
            "AMI rights",
            f"{username!r} may not send call actions (MWIUpdate and MWIDelete for the lamps)",
            WRITE_CALL,
        )
    sent = "Originate (write = originate) and " if originate else ""
    return ok("AMI rights", f"{username!r} may send {sent}call actions (write = call)")


def lamps(actions: set[str]) -> Result:
    """Whether Asterisk takes lamps over AMI: res_mwi_external_ami's actions, no app_voicemail."""
    if "Setvar" not in actions:
        return skipped("lamps", "not checked: the AMI user may not send call actions")
    if {"MWIUpdate", "MWIDelete"} <= actions:
        return ok("lamps", "Asterisk takes MWIUpdate and MWIDelete (res_mwi_external_ami)")
    if "VoicemailUsersList" in actions:
        return failed(
            "lamps",
            "app_voicemail is loaded, so res_mwi_external cannot be: AMI has no MWIUpdate",
            NOLOAD_VOICEMAIL,
        )
    return failed(
        "lamps",
        "AMI has no MWIUpdate or MWIDelete: res_mwi_external_ami is not loaded",
        LOAD_MWI_AMI,
    )


async def contexts_present(ami: AmiClient, names: list[str]) -> dict[str, bool | None]:
    """For each context: in the dialplan (True), not (False), or unknown (None: no DIALPLAN_EXISTS)."""
    present = {}
    for name in names:
        value = (await ami.action("Getvar", Variable=f"DIALPLAN_EXISTS({name})")).get("Value")
        present[name] = {"1": True, "0": False}.get(value)
    return present
