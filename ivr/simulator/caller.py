"""The simulated caller: plays the script's steps against what Asterisk is doing (pure, virtual time).

Time is virtual and counted in samples at 8 kHz from the start of the call; nothing ever waits. A
command that takes time (a prompt, a SAY, WAIT FOR DIGIT, a recording) is a *window* starting at a
virtual instant, with a length (None = endless) and the keys that end it. The caller is asked once
per window what it does in it; the answer is a key at some point, a hang-up at some point, or nothing.

Rules (the script's head step decides; steps are used strictly in order):
- `press K`: pressed at the start of the first window that accepts K. A window that does not accept K
  leaves the key waiting for a later one. (Real Asterisk drops a key pressed while nothing listens,
  and reference/asterisk-agi.md §6 shows keys pressed between commands are lost; the simulated caller
  instead waits for the right moment, so scripts do not depend on prompt lengths.)
- `press K after T`: the key comes T after the start of the first window that accepts K. If that window
  ends first, the moment stays fixed in virtual time: the next window accepting K gets the key at that
  moment, or at once if it is already past.
- `wait` / `silence`: used up by the next window that listens for keys (prompt with escape digits, WAIT
  FOR DIGIT, RECORD FILE), which then runs to its natural end (a prompt plays out, WAIT FOR DIGIT times
  out, a recording records silence). A command made of several windows (GET DATA: the prompt, then a
  wait per digit) takes it with `idles()` and presses nothing in any of them: it times out.
- `say ...`: waits for the next RECORD FILE (`speech()`); windows before it run to their end.
- `hangup`: before the next command, whatever it is. `hangup after T`: T after the start of the next
  window (any command that takes time), fixed in virtual time like `press K after T`.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from ivr.simulator.script import HangUp, Idle, Press, Say, Step


@dataclass(frozen=True)
class KeyPressed:
    key: str
    at: int  # samples into the window


@dataclass(frozen=True)
class HangingUp:
    at: int  # samples into the window


class Caller:
    """The script's steps, used up as the call goes."""

    def __init__(self, steps: Iterable[Step]):
        self._steps: deque[Step] = deque(steps)
        self._moment: int | None = None  # the virtual instant fixed for the head step's `after`

    def _head(self) -> Step | None:
        return self._steps[0] if self._steps else None

    def _pop(self) -> Step:
        self._moment = None
        return self._steps.popleft()

    def _due(self, step: Press | HangUp, start: int) -> int:
        """Samples from `start` until the step happens (0 when it is due already)."""
        if step.after is None:
            return 0
        if self._moment is None:
            self._moment = start + step.after
        return max(0, self._moment - start)

    def hangs_up_now(self, now: int) -> bool:
        """True (and the step is used) when the caller hangs up before the command arriving at `now`."""
        head = self._head()
        if not isinstance(head, HangUp):
            return False
        if head.after is not None and (self._moment is None or self._moment > now):
            return False
        self._pop()
        return True

    def listen(self, start: int, length: int | None, keys: str) -> KeyPressed | HangingUp | None:
        """What the caller does in a window of `length` samples (None = endless) starting at `start`,
        in which `keys` end the command ("" = the command does not listen)."""
        head = self._head()
        if isinstance(head, Press) and head.key in keys and keys:
            at = self._due(head, start)
            if length is None or at < length:
                self._pop()
                return KeyPressed(head.key, at)
        elif isinstance(head, Idle) and keys:
            self._pop()
        elif isinstance(head, HangUp):
            at = self._due(head, start)
            if length is None or at < length:
                self._pop()
                return HangingUp(at)
        return None

    def idles(self) -> bool:
        """True (and the step is used) when the next step is `wait` or `silence`."""
        if isinstance(self._head(), Idle):
            self._pop()
            return True
        return False

    def speech(self) -> Say | None:
        """The `say` step, used up by a recording, when it is the next step."""
        return self._pop() if isinstance(self._head(), Say) else None

    def keep(self, step: Step) -> None:
        """Put a step back in front (a key the recording did not accept waits for the next command)."""
        self._steps.appendleft(step)
        self._moment = None

    def waiting(self) -> bool:
        """True when the next step is a `say` (the caller waits for a recording)."""
        return isinstance(self._head(), Say)

    def left(self) -> tuple[Step, ...]:
        """The steps not used (yet)."""
        return tuple(self._steps)
