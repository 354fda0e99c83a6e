"""The AGI protocol as text, both ways, with no I/O (tested with input/output tables).

Our side: `command()` builds a command line with every argument quoted and escaped, so nothing a caller
controls (caller ID name, digits, file names) can break out of its argument or start a new command;
`parse_reply()` reads Asterisk's `200 result=N (data) endpos=M` lines.

Asterisk's side (for the call simulator, and to prove the quoting): `split_command()` splits a command
line exactly as res_agi.c's parse_args does, and `header_block()` writes the agi_ header block.
"""

import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote(argument: object) -> str:
    """One argument as a double-quoted AGI word: quotes and backslashes escaped, control characters
    (newlines above all: a command is one line) replaced by spaces."""
    text = _CONTROL.sub(" ", str(argument))
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(verb: str, *arguments: object) -> str:
    """A command line (with its newline): `verb` as given (it is ours), every argument quoted."""
    return " ".join([verb, *(quote(argument) for argument in arguments)]) + "\n"


@dataclass(frozen=True)
class Reply:
    code: int  # 200, 510, 511, 520
    result: str = ""  # the text after result=, e.g. "0", "-1", "49", "1234"
    data: str = ""  # the text in parentheses, e.g. "timeout", "dtmf", "hangup", a variable's value
    endpos: int | None = None
    text: str = ""  # the whole line, for error messages

    @property
    def number(self) -> int | None:
        """The result as an integer, when it is one."""
        try:
            return int(self.result)
        except ValueError:
            return None


_REPLY = re.compile(r"(?P<code>\d{3})[ -](?P<rest>.*)")
_RESULT = re.compile(
    r"result=(?P<result>\S*)(?:\s+\((?P<data>[^)]*)\))?(?:\s+endpos=(?P<endpos>-?\d+))?"
)


def parse_reply(line: str) -> Reply:
    """A reply line (without its newline). Raises ValueError for a line that is not a reply."""
    match = _REPLY.fullmatch(line.rstrip("\r\n"))
    if match is None:
        raise ValueError(f"not an AGI reply: {line!r}")
    code, rest = int(match["code"]), match["rest"]
    found = _RESULT.search(rest) if code == 200 else None
    if found is None:
        return Reply(code, text=line)
    endpos = found["endpos"]
    return Reply(
        code,
        found["result"],
        found["data"] or "",
        int(endpos) if endpos is not None else None,
        line,
    )


# Asterisk's side.


def split_command(line: str) -> list[str]:
    """Split a command line into words as Asterisk's parse_args (res_agi.c) does: whitespace separates
    words, double quotes group them (and are dropped), a backslash makes the next character literal."""
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = escaped = False
    for char in line.rstrip("\n"):
        if escaped:
            current.append(char)
            in_word, escaped = True, False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


HEADER_ORDER = (
    "agi_network",
    "agi_network_script",
    "agi_request",
    "agi_channel",
    "agi_language",
    "agi_type",
    "agi_uniqueid",
    "agi_version",
    "agi_callerid",
    "agi_calleridname",
    "agi_callingpres",
    "agi_callingani2",
    "agi_callington",
    "agi_callingtns",
    "agi_dnid",
    "agi_rdnis",
    "agi_context",
    "agi_extension",
    "agi_priority",
    "agi_enhanced",
    "agi_accountcode",
    "agi_threadid",
)


def header_block(headers: dict[str, str], arguments: list[str] = ()) -> bytes:
    """The header block FastAGI sends: `name: value` lines in Asterisk's order (agi_network_script only
    when non-empty), then agi_arg_1..N, then an empty line."""
    lines = [
        f"{name}: {headers[name]}"
        for name in HEADER_ORDER
        if name in headers and not (name == "agi_network_script" and not headers[name])
    ]
    lines += [f"agi_arg_{number}: {value}" for number, value in enumerate(arguments, start=1)]
    return ("\n".join(lines) + "\n\n").encode()
