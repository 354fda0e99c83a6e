"""Callback calls and message-waiting lamps, over Asterisk's manager interface (AMI).

The only module that imports panoramisk's AMI side. AmiLink fences it in:
- one panoramisk Manager per connection, built inside the running loop. AmiLink reconnects by itself,
  with backoff: panoramisk's own reconnection retries at a fixed pace forever and, on FullyBooted,
  replays actions left unanswered by the dropped connection (a callback could ring twice);
- Originate always carries `Async: true` (without it panoramisk 1.4 fails with KeyError 'async') and
  then resolves to [ack, OriginateResponse], or to the ack alone when Asterisk refuses;
- a panoramisk future never resolves when its connection drops: that becomes AmiDown; answers that
  panoramisk returns (Response: Error) become AmiError. Errors are raised, never returned.

CallbackNotifier runs one attempt of a box's callback series per job run. The series' state (which
attempt is next, when it is due) is the job's payload, so it survives restarts by construction; the
job key (dispatch.callback_key) keeps one series per box and number. AmiLamps carries the lamps of
ivr/notify/lamps.py LampRefresher as MWIUpdate and MWIDelete.
"""

import asyncio
import logging
import re
from dataclasses import dataclass

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol

from ivr import channel_vars
from ivr.config import AmiSettings, ConfigError
from ivr.notify.lamps import LampRefused
from ivr.notify.originate import CallNotPlaced, LinkDown
from ivr.notify.worker import Backoff, Failure, Retry, SystemClock
from store.core import Store
from store.errors import NotFound
from store.jobs import Job, Outcome
from store.vmboxes import folder_counts, get_vmbox

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
ACTION_TIMEOUT_S = 10.0  # Login, MWIUpdate, MWIDelete: Asterisk answers them at once
ORIGINATE_GRACE_S = 30.0  # how long past the ring timeout the OriginateResponse may take
RECONNECT = Backoff(base_s=1, max_s=60)
EVENTS = "call"  # the event classes vmbox logs in for: OriginateResponse is a `call` event
AMI_WAIT_S = 30.0  # a callback due while AMI is down is tried again this much later

# OriginateResponse reasons: the last control frame of the dialled channel (AST_CONTROL_*).
ANSWERED, NO_ANSWER, BUSY, CONGESTION = 4, 3, 5, 8
_REASONS = {
    0: "failed",
    1: "failed (hung up before answering)",
    NO_ANSWER: "no answer",
    ANSWERED: "answered",
    BUSY: "busy",
    CONGESTION: "congestion",
}


def reason_text(reason: int) -> str:
    return f"{_REASONS.get(reason, 'failed')} (reason {reason})"


class AmiError(CallNotPlaced):
    """Asterisk refused an action, or answered it in a way vmbox cannot use."""


class AmiDown(AmiError, LinkDown):
    """No AMI connection now, or it dropped while an action waited for its answer: try again later."""


class _Manager(Manager):
    """panoramisk's Manager for one connection: a lost connection is reported, not reconnected."""

    def __init__(self, on_lost, **config):
        super().__init__(**config)
        self.on_lost = on_lost

    def connection_lost(self, exc):
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self.on_lost()


@dataclass
class _Session:
    manager: Manager
    lost: asyncio.Event


def _checked(fields: dict) -> dict:
    """`fields`, refused when a value holds a line break (it would smuggle headers into the action)."""
    for value in fields.values():
        for item in value if isinstance(value, list) else [value]:
            if "\r" in item or "\n" in item:
                raise ValueError(f"an AMI header cannot hold a line break: {item!r}")
    return fields


def _succeeded(response, what: str) -> None:
    if response.response != "Success":
        raise AmiError(
            f"Asterisk refused {what}: {response.message or response.response or 'no answer'}"
        )


class AmiLink:
    """The connection to Asterisk's AMI: kept up by `run`, used by `originate`, `mwi_update`, `mwi_delete`."""

    def __init__(self, settings: AmiSettings, clock=None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.generation = 0  # logins so far: a change means the connection was made again
        self._session: _Session | None = None
        self._up = asyncio.Event()
        self._closing = asyncio.Event()
        self._up_listeners: list = []

    @property
    def connected(self) -> bool:
        return self._session is not None and not self._session.lost.is_set()

    async def wait_up(self) -> None:
        """Return once logged in to Asterisk (at once when already)."""
        await self._up.wait()

    def on_up(self, listener) -> None:
        """Call `listener()` after every login: at start and after every reconnection."""
        self._up_listeners.append(listener)

    async def run(self) -> None:
        """Stay connected until cancelled or closed; reconnect with backoff (1 s, doubling up to 60 s)."""
        failures, problem = 0, None
        try:
            while not self._closing.is_set():
                try:
                    session = await self._connect()
                except (OSError, AmiError) as exc:  # OSError includes timeouts
                    failures += 1
                    problem = self._report(exc, problem, failures)
                    await self.clock.sleep(RECONNECT.delay(failures), self._closing)
                    continue
                failures, problem = 0, None
                self._went_up(session)
                await session.lost.wait()
                self._session = None
                if not self._closing.is_set():
                    logger.warning(
                        "AMI connection to %s:%d lost; reconnecting",
                        self.settings.host,
                        self.settings.port,
                    )
                    await self.clock.sleep(RECONNECT.delay(1), self._closing)
        finally:
            self._end(self._session)

    async def close(self) -> None:
        """Disconnect for good; actions waiting for an answer raise AmiDown."""
        self._closing.set()
        self._end(self._session)

    async def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        timeout_ms: int,
        caller_id: str,
        variables: dict[str, str],
    ) -> int:
        """Call `channel` and, once answered, send it to `context`,`exten`,1. Returns the OriginateResponse
        reason (ANSWERED, NO_ANSWER, BUSY, CONGESTION, 0 or 1 failed). Raises AmiDown (no connection, or it
        dropped while the call rang), AmiError (refused), ValueError (a line break in a value)."""
        fields = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Timeout": str(timeout_ms),
            "CallerID": caller_id,
            "Async": "true",
        }
        if variables:
            fields["Variable"] = [f"{name}={value}" for name, value in variables.items()]
        messages = await self._ask(self._current(), fields, timeout_ms / 1000 + ORIGINATE_GRACE_S)
        _succeeded(messages[0], "Originate")
        event = messages[-1]
        if len(messages) < 2 or event.event != "OriginateResponse":
            raise AmiError(f"Asterisk answered Originate with {messages!r}")
        try:
            return int(event.reason)
        except ValueError:
            raise AmiError(f"OriginateResponse with reason {event.reason!r}") from None

    async def mwi_update(self, mailbox: str, new: int, old: int) -> None:
        """Set the lamp counts of `mailbox` (res_mwi_external). Raises AmiDown, AmiError, ValueError."""
        fields = {
            "Action": "MWIUpdate",
            "Mailbox": mailbox,
            "NewMessages": str(new),
            "OldMessages": str(old),
        }
        messages = await self._ask(self._current(), fields, ACTION_TIMEOUT_S)
        _succeeded(messages[0], f"MWIUpdate of {mailbox}")

    async def mwi_delete(self, mailbox: str) -> None:
        """Forget `mailbox` (its lamp goes off). Raises AmiDown, AmiError, ValueError (for a mailbox starting
        with "/", which Asterisk would take as a regular expression of mailboxes to delete)."""
        if mailbox.startswith("/"):
            raise ValueError(f"MWIDelete would take {mailbox!r} as a regular expression")
        messages = await self._ask(
            self._current(), {"Action": "MWIDelete", "Mailbox": mailbox}, ACTION_TIMEOUT_S
        )
        _succeeded(messages[0], f"MWIDelete of {mailbox}")

    def _current(self) -> _Session:
        if not self.connected:
            raise AmiDown(
                f"not connected to Asterisk's AMI at {self.settings.host}:{self.settings.port}"
            )
        return self._session

    async def _connect(self) -> _Session:
        """A new connection, logged in. Raises OSError (unreachable), AmiError (login refused)."""
        loop = asyncio.get_running_loop()
        session = _Session(None, asyncio.Event())
        session.manager = _Manager(
            lambda: self._lost(session), loop=loop, host=self.settings.host, port=self.settings.port
        )
        connection = await asyncio.wait_for(
            loop.create_connection(AMIProtocol, self.settings.host, self.settings.port),
            CONNECT_TIMEOUT_S,
        )
        made = loop.create_future()
        made.set_result(connection)
        session.manager.connection_made(made)
        try:
            login = {
                "Action": "Login",
                "Username": self.settings.username,
                "Secret": self.settings.secret,
                "Events": EVENTS,
            }
            messages = await self._ask(session, login, ACTION_TIMEOUT_S)
            _succeeded(messages[0], f"the login as {self.settings.username!r}")
        except BaseException:
            self._end(session)
            raise
        return session

    async def _ask(self, session: _Session, fields: dict, timeout_s: float) -> list:
        """Send an action; its answer as a list of messages (the response, then its events)."""
        action = Action(_checked(fields))
        reply = session.manager.send_action(action)
        lost = asyncio.ensure_future(session.lost.wait())
        try:
            await asyncio.wait(
                {reply, lost}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
        if reply.done():
            answer = reply.result()
            return answer if isinstance(answer, list) else [answer]
        name = fields["Action"]
        if session.lost.is_set():
            raise AmiDown(f"the AMI connection dropped while {name} waited for its answer")
        if action.responses:  # acknowledged, but what should follow never came
            raise AmiError(
                f"Asterisk acknowledged {name} but sent nothing more within {timeout_s:.0f} s"
                " (does the AMI user have read=call?)"
            )
        self._end(session)  # no answer at all: a stuck connection; start afresh
        raise AmiDown(f"Asterisk did not answer {name} within {timeout_s:.0f} s; reconnecting")

    def _lost(self, session: _Session) -> None:
        session.lost.set()
        if self._session is None or self._session is session:
            self._up.clear()

    def _end(self, session: _Session | None) -> None:
        if session is not None:
            session.manager.close()
            self._lost(session)

    def _went_up(self, session: _Session) -> None:
        self._session = session
        self.generation += 1
        self._up.set()
        logger.info(
            "AMI connected to %s:%d as %s",
            self.settings.host,
            self.settings.port,
            self.settings.username,
        )
        for listener in self._up_listeners:
            listener()

    def _report(self, exc: Exception, last: str | None, failures: int) -> str:
        """Log a failed connection, loudly when it is a new problem; the problem as text."""
        problem = f"{type(exc).__name__}: {exc}"
        level = (
            logging.DEBUG
            if problem == last
            else logging.ERROR
            if type(exc) is AmiError
            else logging.WARNING
        )
        logger.log(
            level,
            "AMI %s:%d: %s; trying again in %.0f s",
            self.settings.host,
            self.settings.port,
            problem,
            RECONNECT.delay(failures),
        )
        return problem


@dataclass(frozen=True)
class CallbackPlan:
    """A box's notify.callback timing: seconds to wait before each attempt, and how long each one rings."""

    delays: tuple[int, ...]
    timeout_s: int

    @classmethod
    def of(cls, callback: dict) -> "CallbackPlan":
        schedule = tuple(callback.get("schedule") or ())
        delays = schedule or (callback.get("interval_s", 300),) * callback.get("attempts", 5)
        return cls(delays, callback.get("timeout_s", 20))


def dialable(number: str) -> str:
    """`number` without spaces, dots, dashes and brackets; raises Failure unless only 0-9 * # + remain."""
    cleaned = re.sub(r"[\s().-]", "", number)
    if not re.fullmatch(r"[0-9*#+]+", cleaned):
        raise Failure(f"callback number {number!r} is not dialable (only digits, *, # and + are)")
    return cleaned


class CallbackNotifier:
    """The `callback` job: one attempt of a box's callback series per run (KAZOO's notify.callback),
    placed by `link` (AmiLink, or ARI's AriOriginator: see ivr/notify/originate.py).

    Payload: account_id, box_id, number, attempt (0-based, the next one to make) and, once the series
    has started, due (when that attempt was scheduled). Each attempt waits its delay first: attempt 0
    too, as KAZOO does (`schedule: [0, ...]` calls at once)."""

    def __init__(self, store: Store, link: AmiLink, settings: AmiSettings, clock):
        try:
            settings.callback_channel.format(number="1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"ami.callback_channel {settings.callback_channel!r} is not a valid template"
                f" ({type(exc).__name__}: {exc}); it takes {{number}}"
            ) from None
        self.store, self.link, self.settings, self.clock = store, link, settings, clock

    async def attempt(self, job: Job) -> Outcome:
        series = job.payload
        box = await get_vmbox(self.store.db, series["account_id"], series["box_id"])
        stop = await self._why_stop(box, series)
        if stop:
            return Outcome("done", stop)
        plan = CallbackPlan.of(box.doc["notify"]["callback"])
        if series["attempt"] >= len(plan.delays):
            return Outcome(
                "done", f"the box's schedule has no attempt {series['attempt'] + 1} any more"
            )
        if "due" not in series and plan.delays[0] > 0:
            return self._next(series, 0, plan.delays[0], "series started")
        return await self._call(box, series, plan)

    async def _why_stop(self, box, series: dict) -> str | None:
        if box is None:
            return "the box is gone"
        callback = box.doc.get("notify", {}).get("callback", {})
        if callback.get("disabled") or callback.get("number") != series["number"]:
            return f"the box no longer calls {series['number']} back"
        try:
            counts = await folder_counts(self.store.db, box.id, self.store.cutoff())
        except NotFound:
            return "the box is gone"
        return None if counts["new"] > 0 else "no new messages left"

    async def _call(self, box, series: dict, plan: CallbackPlan) -> Outcome:
        attempt = series["attempt"]
        label = f"attempt {attempt + 1} of {len(plan.delays)} to {series['number']}"
        try:
            reason = await self.link.originate(
                self.settings.callback_channel.format(number=dialable(series["number"])),
                self.settings.callback_context,
                box.mailbox,
                plan.timeout_s * 1000,
                f'"Voicemail" <{box.mailbox}>',
                {channel_vars.ACCOUNT: box.account_id},
            )
        except LinkDown as exc:
            run_at = self.clock.now() + AMI_WAIT_S
            return Outcome(
                "rescheduled", f"{label} waits for Asterisk ({exc})", run_at=run_at, payload=series
            )
        except CallNotPlaced as exc:
            raise Retry(f"{label}: {exc}") from None
        except ValueError as exc:  # a line break in the mailbox: retrying cannot help
            raise Failure(f"{label}: {exc}") from None
        if reason == ANSWERED:
            return Outcome("done", f"{label}: answered")
        if attempt + 1 >= len(plan.delays):
            return Outcome("done", f"{label}: {reason_text(reason)}; no attempts left")
        return self._next(
            series, attempt + 1, plan.delays[attempt + 1], f"{label}: {reason_text(reason)}"
        )

    def _next(self, series: dict, attempt: int, delay: int, why: str) -> Outcome:
        due = self.clock.now() + delay
        return Outcome(
            "rescheduled",
            f"{why}; attempt {attempt + 1} in {delay} s",
            run_at=due,
            payload={**series, "attempt": attempt, "due": due},
        )


class AmiLamps:
    """Lamps over AMI (res_mwi_external's MWIUpdate and MWIDelete): the LampLink of ivr/notify/lamps.py."""

    def __init__(self, link: AmiLink):
        self.link = link

    @property
    def generation(self) -> int:
        return self.link.generation

    async def wait_up(self) -> None:
        await self.link.wait_up()

    def on_up(self, listener) -> None:
        self.link.on_up(listener)

    async def update(self, lamp: str, new: int, old: int) -> None:
        """Raises AmiDown (a LinkDown), LampRefused, ValueError."""
        await _refusable(self.link.mwi_update(lamp, new, old))

    async def delete(self, lamp: str) -> None:
        """Raises AmiDown (a LinkDown), LampRefused, ValueError."""
        await _refusable(self.link.mwi_delete(lamp))


async def _refusable(action) -> None:
    """Await an MWI action; Asterisk refusing it (AmiError, but not AmiDown) becomes LampRefused."""
    try:
        await action
    except AmiDown:
        raise
    except AmiError as exc:
        raise LampRefused(str(exc)) from None
