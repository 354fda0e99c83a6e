"""Asterisk's AGI command table as res_agi.c has it: names, whether a command may run on a dead
(hung-up) channel, and the usage text a syntax error prints (pure).

Lookup follows res_agi.c's find_command(): the command's words are matched case-insensitively against
the first words of the line, so `stream file x` and `STREAM FILE x` are the same command and `STREAM`
alone is unknown.

Usage text: Asterisk builds it from the command's XML documentation (ast_xmldoc_build_description), one
line per <para> with the <literal>/<replaceable> markup left in, and sends
`520-Invalid command syntax.  Proper usage follows:`, that text, `520 End of proper usage.`. Commands
without documentation get the single line `520 Invalid command syntax.  Proper usage not available.`.
The texts below are the descriptions of res_agi.c's documentation (whitespace folded as xmldoc does).
"""

import re
from dataclasses import dataclass

USAGE_START = "520-Invalid command syntax.  Proper usage follows:\n"
USAGE_END = "520 End of proper usage.\n"
NO_USAGE = "520 Invalid command syntax.  Proper usage not available.\n"
UNKNOWN = "510 Invalid or unknown command\n"
DEAD = "511 Command Not Permitted on a dead channel or intercept routine\n"

_PLAY_RETURNS = (
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII "
    "numerical value of the digit if one was pressed or <literal>-1</literal> on error/hangup."
)
USAGE = {
    "answer": "Answers channel if not already in answer state. Returns <literal>-1</literal> on channel failure, "
    "or <literal>0</literal> if successful.",
    "get data": "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\nReturns the digits "
    "received from the channel at the other end.",
    "get variable": "Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns "
    "<literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the "
    "variable in parentheses.\nExample return code: 200 result=1 (testvariable)",
    "hangup": "Hangs up the specified channel. If no channel name is given, hangs up the current channel",
    "noop": "Does nothing.",
    "record file": "Record to a file until a given dtmf digit in the sequence is received. Returns "
    "<literal>-1</literal> on hangup or error.  The format will specify what kind of file will be "
    "recorded. The <replaceable>timeout</replaceable> is the maximum record time in milliseconds, or "
    "<literal>-1</literal> for no <replaceable>timeout</replaceable>. <replaceable>offset "
    "samples</replaceable> is optional, and, if provided, will seek to the offset without exceeding "
    "the end of the file. <replaceable>silence</replaceable> is the number of seconds of silence "
    "allowed before the function returns despite the lack of dtmf digits or reaching "
    "<replaceable>timeout</replaceable>. <replaceable>silence</replaceable> value must be preceded "
    "by <literal>s=</literal> and is also optional.",
    "say digits": "Say a given digit string, returning early if any of the given DTMF digits are received on the "
    "channel. " + _PLAY_RETURNS,
    "say number": "Say a given number, returning early if any of the given DTMF digits are received on the "
    "channel.  " + _PLAY_RETURNS,
    "say datetime": "Say a given time, returning early if any of the given DTMF digits are received on the "
    "channel. " + _PLAY_RETURNS,
    "set variable": "Sets a variable to the current channel.",
    "stream file": "Send the given file, allowing playback to be interrupted by the given digits, if any. Returns "
    "<literal>0</literal> if playback completes without a digit being pressed, or the ASCII "
    "numerical value of the digit if one was pressed, or <literal>-1</literal> on error or if the "
    "channel was disconnected. If musiconhold is playing before calling stream file it will be "
    "automatically stopped and will not be restarted after completion.",
    "verbose": "Sends <replaceable>message</replaceable> to the console via verbose message system. "
    "<replaceable>level</replaceable> is the verbose level (1-4). Always returns <literal>1</literal>",
    "wait for digit": "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF "
    "digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal> if no digit is "
    "received in the timeout, or the numerical value of the ascii of the digit if one is "
    "received. Use <literal>-1</literal> for the <replaceable>timeout</replaceable> value if you "
    "desire the call to block indefinitely.",
}

# res_agi.c's commands[] table: name -> may run on a dead channel.
RUNS_DEAD = {
    "answer": False,
    "asyncagi break": True,
    "channel status": False,
    "database del": True,
    "database deltree": True,
    "database get": True,
    "database put": True,
    "exec": True,
    "get data": False,
    "get full variable": True,
    "get option": False,
    "get variable": True,
    "hangup": False,
    "noop": True,
    "receive char": False,
    "receive text": False,
    "record file": False,
    "say alpha": False,
    "say digits": False,
    "say number": False,
    "say phonetic": False,
    "say date": False,
    "say time": False,
    "say datetime": False,
    "send image": False,
    "send text": False,
    "set autohangup": False,
    "set callerid": False,
    "set context": False,
    "set extension": False,
    "set music": False,
    "set priority": False,
    "set variable": True,
    "stream file": False,
    "control stream file": False,
    "tdd mode": False,
    "verbose": True,
    "wait for digit": False,
    "speech create": False,
    "speech set": False,
    "speech destroy": True,
    "speech load grammar": False,
    "speech unload grammar": True,
    "speech activate grammar": False,
    "speech deactivate grammar": False,
    "speech recognize": False,
    "gosub": False,
}


@dataclass(frozen=True)
class Command:
    name: str  # lower case, e.g. "stream file"
    runs_dead: bool

    def usage(self) -> list[str]:
        """The reply lines of a syntax error for this command."""
        text = USAGE.get(self.name)
        return [USAGE_START, text + "\n", USAGE_END] if text else [NO_USAGE]


def find_command(words: list[str]) -> Command | None:
    """The command a split line starts with, as res_agi.c's find_command(words, 0); None if unknown."""
    for name, runs_dead in RUNS_DEAD.items():
        parts = name.split()
        if len(words) >= len(parts) and all(
            a.lower() == b for a, b in zip(words, parts, strict=False)
        ):
            return Command(name, runs_dead)
    return None


_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?\d+)")


def c_integer(text: str) -> int | None:
    """What C's sscanf(text, "%30d") reads: leading whitespace, a sign, digits; None if nothing."""
    match = _INTEGER.match(text)
    return int(match[1][:30]) if match else None
