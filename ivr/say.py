"""What SAY NUMBER, SAY DIGITS and SAY DATETIME play in English, file by file (pure).

Shared by the simulator (which plays Asterisk's SAY commands) and the ARI driver (which has no SAY
and composes the same `digits/*` playlist itself), so both say exactly what Asterisk would.

Follows Asterisk's main/say.c for "en" (ast_say_number_full_en, say_digit_str_full,
ast_say_enumeration_full_en, ast_say_date_with_format_en), including how a missing file behaves:
say.c plays numbers, digits and ordinals only from files that exist (a missing one is skipped), but
plays the other parts of a date (weekday, month, 'literal' files, hours, "oh", "o'clock", a-m/p-m)
with wait_file(), where a missing file ends the SAY with result -1. Parts of that second kind are
`required`.
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_FORMAT = "ABdY 'digits/at' IMp"


@dataclass(frozen=True)
class Part:
    file: str  # relative to the sounds directory, e.g. "digits/5"
    required: bool = False  # missing → the SAY ends with result -1
    failure: str = ""  # set on a part that stands for Asterisk giving up (file is "")


def number(num: int) -> list[Part]:
    """SAY NUMBER in English: digits/N up to 19, tens, hundred, thousand, million, minus."""
    if num == 0:
        return [Part("digits/0")]
    parts: list[Part] = []
    hundred = False
    while num or hundred:
        if num < 0:
            parts.append(Part("digits/minus"))
            num = -num
        elif hundred:
            parts.append(Part("digits/hundred"))
            hundred = False
        elif num < 20:
            parts.append(Part(f"digits/{num}"))
            num = 0
        elif num < 100:
            parts.append(Part(f"digits/{num // 10 * 10}"))
            num %= 10
        elif num < 1000:
            parts.append(Part(f"digits/{num // 100}"))
            hundred, num = True, num % 100
        elif num < 1_000_000:
            parts += number(num // 1000) + [Part("digits/thousand")]
            num %= 1000
        elif num < 1_000_000_000:
            parts += number(num // 1_000_000) + [Part("digits/million")]
            num %= 1_000_000
        else:
            return parts + [Part("", True, f"Asterisk's English say.c gives up on {num} (too big)")]
    return parts


def digits(text: str) -> list[Part]:
    """SAY DIGITS: each digit, `*` star, `#` pound, `-` minus; other characters are skipped."""
    names = {"*": "digits/star", "#": "digits/pound", "-": "digits/minus"}
    return [
        Part(names.get(char) or f"digits/{char}")
        for char in text
        if char in names or char in "0123456789"
    ]


def ordinal(num: int) -> list[Part]:
    """An English ordinal below 100 (days and months): h-N files, e.g. 21 → digits/20 digits/h-1."""
    parts = []
    while num:
        if num < 20:
            parts.append(Part(f"digits/h-{num}"))
            num = 0
        else:
            tens, num = num // 10 * 10, num % 10
            parts.append(Part(f"digits/h-{tens}" if num == 0 else f"digits/{tens}"))
    return parts


def _hour24(hour: int, oh: bool) -> list[Part]:
    parts = [Part("digits/oh", True)] if (oh and hour < 10) or hour == 0 else []
    if hour > 20:
        parts += [Part("digits/20", True), Part(f"digits/{hour - 20}", True)]
    elif hour:
        parts.append(Part(f"digits/{hour}", True))
    return parts


def _minute(value: int, zero: str) -> list[Part]:
    if value == 0:
        return [Part(zero, True)]
    if value < 10:
        return [Part("digits/oh", True), Part(f"digits/{value}", True)]
    return number(value)


def _year(year: int) -> list[Part]:
    if year >= 2000:
        return number(year)
    if year <= 1900:
        return []  # say.c stays silent
    return (
        [Part("digits/19", True)]
        + ([Part("digits/oh", True)] if year <= 1909 else [])
        + number(year - 1900)
    )


def _recent(when: datetime, now: datetime, today: bool) -> str:
    """The format say.c's Q (today=True) / q picks by how long ago `when` was."""
    start_of_today = now.timestamp() - (now.hour * 3600 + now.minute * 60 + now.second)
    age = start_of_today - when.timestamp()
    if age < 0:
        return "'digits/today'" if today else ""
    for limit, fmt in (
        (86400, "'digits/yesterday'"),
        (86400 * 6, "A"),
        (2628000, "ABd"),
        (15768000, "Bd"),
    ):
        if age < limit:
            return fmt
    return "BdY"


def _code(code: str, when: datetime, now: datetime) -> list[Part] | str:
    """The parts for one format letter, or a format to expand instead."""
    hour12 = when.hour - 12 if when.hour > 12 else (when.hour or 12)
    table = {
        "A": lambda: [Part(f"digits/day-{(when.weekday() + 1) % 7}", True)],
        "B": lambda: [Part(f"digits/mon-{when.month - 1}", True)],
        "m": lambda: ordinal(when.month),
        "d": lambda: ordinal(when.day),
        "Y": lambda: _year(when.year),
        "I": lambda: [Part(f"digits/{hour12}", True)],
        "H": lambda: _hour24(when.hour, oh=True),
        "k": lambda: _hour24(when.hour, oh=False),
        "M": lambda: _minute(when.minute, "digits/oclock"),
        "N": lambda: _minute(when.minute, "digits/hundred"),
        "S": lambda: _minute(when.second, "digits/0"),
        "P": lambda: [Part("digits/p-m" if when.hour > 11 else "digits/a-m", True)],
        "Q": lambda: _recent(when, now, today=True),
        "q": lambda: _recent(when, now, today=False),
        "R": lambda: "HM",
        "T": lambda: "HMS",
    }
    aliases = {"a": "A", "b": "B", "h": "B", "e": "d", "l": "I", "p": "P"}
    return table[aliases.get(code, code)]()


def datetime_parts(
    unix: int, fmt: str, zone: tzinfo | None, now: float
) -> tuple[list[Part], list[str]]:
    """SAY DATETIME in English: the parts, and the format letters say.c does not know (it skips them
    with a warning). `zone` None is the machine's local time; `now` (unix time) matters only for Q, q."""
    when = datetime.fromtimestamp(unix, zone)
    parts: list[Part] = []
    unknown: list[str] = []
    index = 0
    while index < len(fmt):
        code = fmt[index]
        if code == "'":
            end = fmt.find("'", index + 1)
            end = len(fmt) if end < 0 else end
            parts.append(Part(fmt[index + 1 : end], True))
            index = end
        elif code not in " \t":
            try:
                found = _code(code, when, datetime.fromtimestamp(now, zone))
            except KeyError:
                unknown.append(code)
            else:
                more, missing = (
                    datetime_parts(unix, found, zone, now)
                    if isinstance(found, str)
                    else (found, [])
                )
                parts += more
                unknown += missing
        index += 1
    return parts, unknown


def zone(name: str) -> tzinfo | None:
    """SAY DATETIME's timezone argument: a zoneinfo name, or "" for the machine's own zone (None), as
    Asterisk does. Raises ValueError for an unknown zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def reached(played: list[tuple[str, int]], elapsed: int) -> list[str]:
    """The files (with their lengths) of a SAY that the caller got to hear before it was cut `elapsed`
    samples in: those started by then (a key exactly between two files belongs to the second)."""
    heard, position = [], 0
    for file, length in played:
        if position > elapsed:
            break
        heard.append(file)
        position += length
        if position > elapsed:
            break
    return heard
