"""A simulated call as the caller lived it (what was heard, pressed, recorded), and what went wrong.

`errors` is the simulator failing loudly: anything a real Asterisk would not have wanted (an unknown
command, bad arguments, a missing sound file, a command sent before the previous reply was read, a
server that never ends the call, script steps never used...). A call is `ok` only without errors.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heard:
    prompt: str  # what STREAM FILE named, "SAY NUMBER 42", "beep"
    seconds: float  # how long the caller heard it
    files: tuple[str, ...] = ()  # for a SAY: the sound files it was made of
    cut_by: str | None = None  # the key that stopped it
    missing: bool = False  # could not be played (the reply was result=-1)
    hung_up: bool = False  # the caller hung up while it played
    offset_s: float = (
        0.0  # where in the sound it started (a message resumed after fast-forward or rewind)
    )


@dataclass(frozen=True)
class Pressed:
    key: str


@dataclass(frozen=True)
class Waited:
    seconds: float  # a WAIT FOR DIGIT that timed out


@dataclass(frozen=True)
class Recorded:
    path: str  # the WAV file written
    seconds: float  # its length
    ended_by: str  # "key #", "silence", "max time", "hangup"


@dataclass(frozen=True)
class HungUp:
    by: str  # "caller" or "server"


@dataclass(frozen=True)
class Exchange:
    command: str  # as received, without its newline
    replies: tuple[str, ...]  # the lines sent back, without their newlines


@dataclass(frozen=True)
class Logged:
    message: str  # a VERBOSE message


Event = Heard | Pressed | Waited | Recorded | HungUp | Exchange | Logged


@dataclass
class Transcript:
    events: list[Event] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # set by SET VARIABLE
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # the agi_* header block sent
    commands: int = 0
    call_seconds: float = 0.0  # virtual time
    caller_hung_up: bool = False
    server_hung_up: bool = False  # the server sent HANGUP
    closed: bool = False  # the server closed the connection (the normal end of an AGI script)
    turnarounds: list[float] = field(
        default_factory=list
    )  # real seconds from each reply to the next command

    @property
    def ok(self) -> bool:
        """True when nothing unexpected happened."""
        return not self.errors

    @property
    def heard(self) -> list[Heard]:
        return [event for event in self.events if isinstance(event, Heard)]

    @property
    def keys(self) -> str:
        """The keys pressed, in order."""
        return "".join(event.key for event in self.events if isinstance(event, Pressed))

    @property
    def recordings(self) -> list[Recorded]:
        return [event for event in self.events if isinstance(event, Recorded)]

    @property
    def exchanges(self) -> list[Exchange]:
        return [event for event in self.events if isinstance(event, Exchange)]

    def report(self, verbose: bool = False) -> list[str]:
        """The call as printable lines: one per prompt, key, wait, recording and hang-up; every command
        and reply when `verbose`; then variables, warnings, errors and a final verdict."""
        lines = [line for event in self.events for line in _describe(event, verbose)]
        lines += [f"variable {name}={value}" for name, value in self.variables.items()]
        lines += [f"warning: {warning}" for warning in self.warnings]
        lines += [f"ERROR: {error}" for error in self.errors]
        ending = (
            "the server closed the connection"
            if self.closed
            else "the connection was not closed by the server"
        )
        verdict = "call ok" if self.ok else f"call FAILED ({len(self.errors)} error(s))"
        lines.append(
            f"{verdict}: {self.commands} command(s), {self.call_seconds:.2f} s of call time, {ending}"
        )
        return lines


def _describe(event: Event, verbose: bool) -> list[str]:
    if isinstance(event, Heard):
        name = event.prompt + (f" ({' '.join(event.files)})" if event.files else "")
        notes = [f"cut by {event.cut_by}"] * bool(event.cut_by) + [
            "could not be played"
        ] * event.missing
        notes += ["caller hung up"] * event.hung_up
        return [
            f"hears    {name}  {event.seconds:.2f} s" + "".join(f"  ({note})" for note in notes)
        ]
    if isinstance(event, Pressed):
        return [f"presses  {event.key}"]
    if isinstance(event, Waited):
        return [f"waits    {event.seconds:.2f} s, presses nothing"]
    if isinstance(event, Recorded):
        return [f"records  {event.seconds:.2f} s (ended by {event.ended_by})  {event.path}"]
    if isinstance(event, HungUp):
        return ["hangs up"] if event.by == "caller" else ["the server hangs up"]
    if not verbose:
        return []
    if isinstance(event, Logged):
        return [f"verbose  {event.message}"]
    return [f"  > {event.command}"] + [f"  < {reply}" for reply in event.replies]
