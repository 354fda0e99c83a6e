"""The call simulator's command handler: every reply form, byte for byte as res_agi.c writes it
(reference/asterisk-agi.md), with Asterisk's real English sounds, and real WAV files for recordings.

Expected lengths are read from the sound files with the wave module, independently of the simulator.
"""

import subprocess
import wave
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.say import Part, datetime_parts, digits, number
from ivr.simulator import DEFAULT_SOUNDS
from ivr.simulator.asterisk import Asterisk
from ivr.simulator.channel import Channel
from ivr.simulator.commands import NO_USAGE, Command
from ivr.simulator.script import parse_script
from ivr.simulator.transcript import Heard, HungUp, Pressed, Recorded, Waited

SOUNDS = DEFAULT_SOUNDS
if not (SOUNDS / "vm-goodbye.wav").exists():
    raise RuntimeError(
        f"Asterisk's English sounds are missing from {SOUNDS}: run the tests with ./vmbox.sh test, "
        "which installs asterisk-core-sounds-en-wav"
    )
CHANNEL = Channel("PJSIP/1002-00000001", "1764211234.42", "1002", "Alice", "vmbox", "1001")
DEAD = "511 Command Not Permitted on a dead channel or intercept routine\n"


def frames(path: Path) -> int:
    with wave.open(str(path)) as wav:
        return wav.getnframes()


def length(name: str) -> int:
    return frames(SOUNDS / f"{name}.wav")


def wav_shape(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path)) as wav:
        return wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.getnframes()


def asterisk(script: str = "", **options) -> Asterisk:
    return Asterisk(parse_script(script), CHANNEL, SOUNDS, **options)


def talk(channel: Asterisk, *commands: str) -> list[str]:
    """The bytes Asterisk sends for each command, as one string per command."""
    return ["".join(channel.handle(command)) for command in commands]


# Simple commands.


def test_answer_noop_verbose_and_variables():
    channel = asterisk()
    assert talk(
        channel,
        "ANSWER",
        "NOOP",
        'VERBOSE "hello there" "1"',
        'SET VARIABLE "VMBOX_RESULT" "done"',
        'GET VARIABLE "VMBOX_RESULT"',
        'GET VARIABLE "NOT_SET"',
        'GET VARIABLE "CALLERID(num)"',
        'GET VARIABLE "CALLERID(name)"',
        'GET VARIABLE "CHANNEL"',
    ) == [
        "200 result=0\n",
        "200 result=0\n",
        "200 result=1\n",
        "200 result=1\n",
        "200 result=1 (done)\n",
        "200 result=0\n",
        "200 result=1 (1002)\n",
        "200 result=1 (Alice)\n",
        "200 result=1 (PJSIP/1002-00000001)\n",
    ]
    assert channel.transcript.variables == {"VMBOX_RESULT": "done"}
    assert channel.finish().ok


def test_commands_are_case_insensitive_and_arguments_unquoted_as_asterisk_does():
    channel = asterisk()
    assert talk(
        channel, 'set variable "A B" "with \\"quotes\\" and spaces"', "get variable A\\ B"
    ) == ["200 result=1\n", '200 result=1 (with "quotes" and spaces)\n']


def test_initial_channel_variables_are_readable():
    channel = asterisk(variables={"MAILBOX": "1001"})
    assert talk(channel, 'GET VARIABLE "MAILBOX"') == ["200 result=1 (1001)\n"]
    assert channel.transcript.variables == {}


# STREAM FILE.


def test_stream_file_played_to_the_end_reports_the_file_length():
    channel = asterisk()
    assert talk(channel, 'STREAM FILE "vm-goodbye" ""') == [
        f"200 result=0 endpos={length('vm-goodbye')}\n"
    ]
    assert channel.transcript.heard == [Heard("vm-goodbye", length("vm-goodbye") / 8000)]
    assert channel.clock == length("vm-goodbye")


def test_stream_file_cut_by_a_key_reports_the_key_and_the_position_reached():
    channel = asterisk("press 1 after 0.7s")
    assert talk(channel, 'STREAM FILE "vm-intro" "0123456789#*"') == ["200 result=49 endpos=5600\n"]
    assert channel.transcript.heard == [Heard("vm-intro", 0.7, cut_by="1")]
    assert channel.transcript.keys == "1"


def test_a_key_pressed_at_once_cuts_the_prompt_at_its_start():
    channel = asterisk("press #")
    assert talk(channel, 'STREAM FILE "vm-intro" "#"', 'STREAM FILE "vm-intro" "#" "8000"') == [
        "200 result=35 endpos=0\n",
        f"200 result=0 endpos={length('vm-intro')}\n",
    ]


def test_a_key_the_prompt_does_not_accept_waits_for_the_next_command():
    channel = asterisk("press 5")
    assert talk(channel, 'STREAM FILE "vm-goodbye" "#"', 'WAIT FOR DIGIT "3000"') == [
        f"200 result=0 endpos={length('vm-goodbye')}\n",
        "200 result=53\n",
    ]


def test_stream_file_with_an_offset_counts_positions_in_the_file():
    channel = asterisk("press 8 after 1s")
    assert talk(channel, 'STREAM FILE "vm-intro" "8" "16000"') == ["200 result=56 endpos=24000\n"]


def test_stream_file_from_beyond_the_end_plays_nothing_and_reports_the_end():
    # Asterisk's wav_seek clamps the offset to the end; the stream ends at once: endpos = file length.
    channel = asterisk("wait")
    assert talk(channel, 'STREAM FILE "vm-goodbye" "#" "99999999"') == [
        f"200 result=0 endpos={length('vm-goodbye')}\n"
    ]
    assert channel.clock == 0
    assert channel.caller.left() == parse_script(
        "wait"
    )  # nothing was heard, so nothing was waited through


def test_a_missing_sound_is_result_minus_1_at_the_offset_and_an_error():
    channel = asterisk()
    assert talk(
        channel, 'STREAM FILE "vm-nosuchprompt" "#"', 'STREAM FILE "/no/such/file" "#" "1234"'
    ) == ["200 result=-1 endpos=0\n", "200 result=-1 endpos=1234\n"]
    errors = channel.finish().errors
    assert len(errors) == 2 and "vm-nosuchprompt" in errors[0] and "/no/such/file.wav" in errors[1]
    assert channel.transcript.heard[0].missing


def test_a_missing_sound_is_only_a_warning_when_not_strict():
    channel = asterisk(strict=False)
    assert talk(channel, 'STREAM FILE "vm-nosuchprompt" "#"') == ["200 result=-1 endpos=0\n"]
    assert channel.finish().ok and "vm-nosuchprompt" in channel.transcript.warnings[0]


def test_a_file_with_the_extension_named_is_missing_as_in_asterisk():
    channel = asterisk()
    assert talk(channel, 'STREAM FILE "vm-goodbye.wav" ""') == ["200 result=-1 endpos=0\n"]
    assert "vm-goodbye.wav.wav" in channel.transcript.errors[0]


def test_a_wav_asterisk_cannot_play_counts_as_missing(tmp_path):
    with wave.open(str(tmp_path / "wide.wav"), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes(bytes(3200))
    channel = asterisk()
    assert talk(channel, f'STREAM FILE "{tmp_path}/wide" ""') == ["200 result=-1 endpos=0\n"]
    assert "16000 Hz" in channel.transcript.errors[0]


# SAY.

NUMBERS = [
    (0, ["0"]),
    (7, ["7"]),
    (15, ["15"]),
    (20, ["20"]),
    (42, ["40", "2"]),
    (100, ["1", "hundred"]),
    (115, ["1", "hundred", "15"]),
    (1000, ["1", "thousand"]),
    (2025, ["2", "thousand", "20", "5"]),
    (1_234_567, ["1", "million", "2", "hundred", "30", "4", "thousand", "5", "hundred", "60", "7"]),
    (-5, ["minus", "5"]),
]


@pytest.mark.parametrize(("value", "files"), NUMBERS)
def test_numbers_are_composed_as_in_say_c(value, files):
    assert number(value) == [Part(f"digits/{file}") for file in files]


def test_say_number_plays_its_files_and_takes_their_time():
    channel = asterisk()
    assert talk(channel, 'SAY NUMBER "42" "#"') == ["200 result=0\n"]
    assert channel.transcript.heard == [
        Heard(
            "SAY NUMBER 42",
            (length("digits/40") + length("digits/2")) / 8000,
            ("digits/40", "digits/2"),
        )
    ]


def test_say_number_cut_by_a_key_reports_only_the_key():
    channel = asterisk(f"press # after {length('digits/40') / 8000 + 0.1}s")
    assert talk(channel, 'SAY NUMBER "42" "#"') == ["200 result=35\n"]
    assert channel.transcript.heard[0].files == ("digits/40", "digits/2")
    assert channel.transcript.heard[0].cut_by == "#"


def test_say_number_too_big_for_asterisk_is_result_minus_1():
    channel = asterisk()
    assert talk(channel, 'SAY NUMBER "1000000000" ""') == ["200 result=-1\n"]
    assert "too big" in channel.transcript.errors[0]


def test_say_digits_plays_each_character():
    assert digits("12*#-x") == [
        Part(f"digits/{name}") for name in ("1", "2", "star", "pound", "minus")
    ]
    channel = asterisk()
    assert talk(channel, 'SAY DIGITS "1001" "#"', 'SAY DIGITS "*12" "#"') == [
        "200 result=0\n",
        "520-Invalid command syntax.  Proper usage follows:\n"
        "Say a given digit string, returning early if any of the given DTMF digits are received on the channel. "
        "Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical "
        "value of the digit if one was pressed or <literal>-1</literal> on error/hangup.\n520 End of proper usage.\n",
    ]
    assert channel.transcript.heard[0].files == ("digits/1", "digits/0", "digits/0", "digits/1")


DATES = [
    # 2025-11-27 02:40:34 UTC, a Thursday.
    (1764211234, "UTC", "ABdY 'digits/at' IMp", "day-4 mon-10 20 h-7 2 thousand 20 5 at 2 40 a-m"),
    (
        1764211234,
        "America/New_York",
        "ABdY 'digits/at' IMp",
        "day-3 mon-10 20 h-6 2 thousand 20 5 at 9 40 p-m",
    ),
    (1764201600, "UTC", "IMp", "12 oclock a-m"),  # midnight
    (1764201600 + 13 * 3600 + 5 * 60, "UTC", "IMp", "1 oh 5 p-m"),
    (1764201600 + 8 * 3600, "UTC", "HM", "oh 8 oclock"),
    (1764201600 + 23 * 3600 + 59 * 60, "UTC", "kM", "20 3 50 9"),
    (1764201600, "UTC", "dem", "20 h-7 20 h-7 h-11"),
    (1764201600 + 45, "UTC", "S", "40 5"),
    (1764201600 + 7, "UTC", "S", "oh 7"),
    (1764201600, "UTC", "T", "oh oclock 0"),
    (
        1764201660,
        "UTC",
        "'vm-received' q 'digits/at' IMp",
        "vm-received at 12 oh 1 a-m",
    ),  # q: today → ""
]


def test_say_datetime_parts_follow_say_c_english():
    for unix, zone, fmt, expected in DATES:
        parts, unknown = datetime_parts(unix, fmt, ZoneInfo(zone), now=unix)
        assert " ".join(part.file.removeprefix("digits/") for part in parts) == expected, (
            unix,
            zone,
            fmt,
        )
        assert unknown == []


@pytest.mark.parametrize(
    ("year", "said"),
    [
        (1967, "19 60 7"),
        (1905, "19 oh 5"),
        (1900, ""),
        (2000, "2 thousand"),
        (2010, "2 thousand 10"),
    ],
)
def test_say_datetime_years(year, said):
    unix = int(datetime(year, 6, 1, tzinfo=UTC).timestamp())
    parts, _ = datetime_parts(unix, "Y", UTC, now=unix)
    assert " ".join(part.file.removeprefix("digits/") for part in parts) == said


@pytest.mark.parametrize(
    ("age_days", "said"),
    [
        (0, "today"),
        (1, "yesterday"),
        (3, "day-4"),
        (20, "day-1 mon-10 h-3"),
        (100, "mon-7 h-15"),
        (400, "mon-9 h-19 2 thousand 20 4"),
    ],
)
def test_say_datetime_q_depends_on_how_long_ago(age_days, said):
    now = int(datetime(2025, 11, 23, 12, 0, tzinfo=UTC).timestamp())  # a Sunday
    parts, _ = datetime_parts(now - age_days * 86400, "Q", UTC, now=now)
    assert " ".join(part.file.removeprefix("digits/") for part in parts) == said


def test_say_datetime_default_format_and_timezone():
    channel = asterisk()
    assert talk(
        channel,
        'SAY DATETIME "1764211234" "#"',
        'SAY DATETIME "1764211234" "#" "IMp" "Europe/Paris"',
        'SAY DATETIME "1764211234" "#" "IMpZ" "Nowhere/Land"',
        'SAY DATETIME "soon" "#"',
    ) == [
        "200 result=0\n",
        "200 result=0\n",
        "200 result=0\n",
        "520-Invalid command syntax.  Proper usage follows:\nSay a given time, returning early if any of the given "
        "DTMF digits are received on the channel. Returns <literal>0</literal> if playback completes without a digit "
        "being pressed, or the ASCII numerical value of the digit if one was pressed or <literal>-1</literal> on "
        "error/hangup.\n520 End of proper usage.\n",
    ]
    assert channel.transcript.heard[1].files == ("digits/3", "digits/40", "digits/a-m")
    errors = channel.transcript.errors
    assert (
        "Nowhere/Land" in errors[0]
        and "unknown letter(s) Z" in errors[1]
        and "invalid arguments" in errors[2]
    )


def test_say_datetime_with_a_missing_literal_file_ends_with_minus_1():
    # say.c's wait_file() gives up on a missing file: result -1, after what was played before it.
    channel = asterisk()
    assert talk(channel, """SAY DATETIME "1764211234" "#" "I 'vm-nosuch' p" "UTC\"""") == [
        "200 result=-1\n"
    ]
    assert channel.transcript.heard[0].files == ("digits/2",)


# WAIT FOR DIGIT.


def test_wait_for_digit_key_timeout_and_silence():
    channel = asterisk("press 7; silence; press 9 after 6s")
    assert talk(
        channel,
        'WAIT FOR DIGIT "5000"',
        'WAIT FOR DIGIT "5000"',
        'WAIT FOR DIGIT "5000"',
        'WAIT FOR DIGIT "5000"',
        'WAIT FOR DIGIT "0"',
    ) == [
        "200 result=55\n",
        "200 result=0\n",
        "200 result=0\n",
        "200 result=57\n",
        "200 result=0\n",
    ]
    assert channel.transcript.keys == "79"
    assert channel.clock == 5000 * 8 * 2 + 1000 * 8


def test_wait_for_digit_forever_with_nothing_to_do_is_an_error_and_the_caller_leaves():
    channel = asterisk()
    assert talk(channel, 'WAIT FOR DIGIT "-1"', 'WAIT FOR DIGIT "-1"') == [
        "200 result=-1\nHANGUP\n",
        DEAD,
    ]
    assert "waits forever" in channel.transcript.errors[0]


# GET DATA (res_agi.c handle_getdata -> app.c ast_app_getdata_full -> channel.c ast_readstring_full).

LOGIN = length("vm-login")
GET_DATA = [
    # (case, script, command, reply, virtual samples taken, keys pressed)
    (
        "digits then #",
        "press 1 0 0 1 #",
        'GET DATA "vm-login" "3000" "10"',
        "200 result=1001\n",
        0,
        "1001#",
    ),
    (
        "digits then timeout",
        "press 1 0; wait",
        'GET DATA "vm-login" "3000" "10"',
        "200 result=10 (timeout)\n",
        3000 * 8,
        "10",
    ),
    (
        "maxdigits reached",
        "press 1 2 3 4",
        'GET DATA "vm-login" "3000" "4"',
        "200 result=1234\n",
        0,
        "1234",
    ),
    (
        "no input",
        "wait",
        'GET DATA "vm-login" "3000" "4"',
        "200 result= (timeout)\n",
        LOGIN + 3000 * 8,
        "",
    ),
    (
        "no input, default timeout",
        "",
        'GET DATA "vm-login"',
        "200 result= (timeout)\n",
        LOGIN + 6000 * 8,
        "",
    ),
    (
        "key during the prompt",
        "press 7 after 0.5s; press #",
        'GET DATA "vm-login" "3000"',
        "200 result=7\n",
        4000,
        "7#",
    ),
    (
        "key after the prompt",
        f"press 5 after {LOGIN / 8000 + 1}s; wait",
        'GET DATA "vm-login" "3000"',
        "200 result=5 (timeout)\n",
        LOGIN + 8000 + 3000 * 8,
        "5",
    ),
    (
        "default wait between digits",
        "press 5; press 6 after 1.9s; press 7 after 2.1s",
        'GET DATA "vm-login"',
        "200 result=56 (timeout)\n",
        15200 + 2000 * 8,
        "56",
    ),
    ("# alone", "press #", 'GET DATA "vm-login" "3000"', "200 result=\n", 0, "#"),
    (
        "hang-up during the prompt",
        "hangup after 0.5s",
        'GET DATA "vm-login" "3000"',
        "200 result=-1\nHANGUP\n",
        4000,
        "",
    ),
    (
        "hang-up while collecting",
        "press 4; hangup after 1s",
        'GET DATA "vm-login" "3000"',
        "200 result=-1\nHANGUP\n",
        8000,
        "4",
    ),
    ("missing file", "press 1", 'GET DATA "vm-nosuchprompt" "3000"', "200 result=-1\n", 0, ""),
    ("no prompt", "press 9 after 1s; press #", 'GET DATA "" "3000"', "200 result=9\n", 8000, "9#"),
    (
        "timeout 0 is the default",
        "wait",
        'GET DATA "" "0"',
        "200 result= (timeout)\n",
        6000 * 8,
        "",
    ),
    ("arguments read by atoi", "press 1 2", 'GET DATA "" "2000ms" "1x"', "200 result=1\n", 0, "1"),
    (
        "negative maxdigits stops after one digit",
        "press 3 4",
        'GET DATA "" "3000" "-1"',
        "200 result=3\n",
        0,
        "3",
    ),
    (
        "negative timeout waits as long as it takes",
        "press 8 after 600s; press #",
        'GET DATA "" "-1"',
        "200 result=8\n",
        600 * 8000,
        "8#",
    ),
]


@pytest.mark.parametrize(
    ("script", "line", "reply", "samples", "keys"),
    [case[1:] for case in GET_DATA],
    ids=[case[0] for case in GET_DATA],
)
def test_get_data_replies_as_asterisk(script, line, reply, samples, keys):
    channel = asterisk(script)
    assert talk(channel, line) == [reply]
    assert channel.clock == samples
    assert channel.transcript.keys == keys


def test_get_data_transcript_of_digits_ended_by_a_timeout():
    channel = asterisk("press 4 after 0.25s; press 2; wait")
    assert talk(channel, 'GET DATA "vm-login" "5000"') == ["200 result=42 (timeout)\n"]
    assert channel.transcript.events[1:] == [
        Heard("vm-login", 0.25, cut_by="4"),
        Pressed("4"),
        Pressed("2"),
        Waited(5.0),
    ]
    assert channel.finish().ok


def test_get_data_prompt_played_out_then_nothing():
    channel = asterisk("wait; press 5")
    assert talk(channel, 'GET DATA "vm-login" "2000" "4"', 'WAIT FOR DIGIT "100"') == [
        "200 result= (timeout)\n",
        "200 result=53\n",
    ]  # the `wait` holds for the whole GET DATA
    assert channel.transcript.events[1:3] == [Heard("vm-login", LOGIN / 8000), Waited(2.0)]


def test_get_data_keys_beyond_maxdigits_wait_for_the_next_command():
    channel = asterisk("press 1 2 3")
    assert talk(channel, 'GET DATA "vm-login" "3000" "2"', 'WAIT FOR DIGIT "100"') == [
        "200 result=12\n",
        "200 result=51\n",
    ]


def test_get_data_hang_ups_end_the_channel():
    channel = asterisk("hangup after 0.5s")
    assert talk(
        channel, 'GET DATA "vm-login" "3000"', 'GET DATA "vm-login" "3000"', 'SET VARIABLE "A" "1"'
    ) == ["200 result=-1\nHANGUP\n", DEAD, "200 result=1\n"]
    assert channel.transcript.events[1:3] == [
        Heard("vm-login", 0.5, hung_up=True),
        HungUp("caller"),
    ]
    channel = asterisk("press 4; hangup after 1s")
    assert talk(channel, 'GET DATA "vm-login" "3000"') == ["200 result=-1\nHANGUP\n"]
    assert channel.transcript.events[1:] == [
        Heard("vm-login", 0.0, cut_by="4"),
        Pressed("4"),
        HungUp("caller"),
    ]
    assert channel.finish().ok and channel.transcript.caller_hung_up


def test_get_data_with_a_missing_file_answers_minus_1_and_the_call_goes_on():
    # ast_app_getdata_full returns ast_streamfile()'s -1 before reading any digit; no hang-up.
    channel = asterisk("press 1")
    assert talk(
        channel,
        'GET DATA "vm-nosuchprompt" "3000"',
        'GET DATA "/no/such/file" "3000"',
        'GET DATA "vm-login" "3000" "1"',
    ) == ["200 result=-1\n", "200 result=-1\n", "200 result=1\n"]
    errors = channel.finish().errors
    assert len(errors) == 2 and "vm-nosuchprompt" in errors[0] and "/no/such/file.wav" in errors[1]
    assert channel.transcript.heard[0] == Heard("vm-nosuchprompt", 0.0, missing=True)
    relaxed = asterisk(strict=False)
    assert talk(relaxed, 'GET DATA "vm-nosuchprompt" "3000"') == ["200 result=-1\n"]
    assert relaxed.finish().ok and "vm-nosuchprompt" in relaxed.transcript.warnings[0]


def test_get_data_that_asterisk_would_mishandle_fails_the_call():
    channel = asterisk("press 1")
    assert talk(channel, 'GET DATA "vm-login" "3000" "0"', 'GET DATA "" "-1" "1"') == [
        "200 result=-1\n",
        "200 result=1\n",
    ]  # maxdigits 0: ast_readstring_full fails at once
    assert "maxdigits 0" in channel.transcript.errors[0]
    channel = asterisk()
    assert talk(channel, 'GET DATA "" "-1"') == ["200 result=-1\nHANGUP\n"]
    assert "waits forever" in channel.transcript.errors[0]
    channel = asterisk("press #")
    assert talk(channel, 'GET DATA "" "3000" "2000"') == ["200 result=\n"]
    assert "1024-byte buffer" in channel.transcript.errors[0]


def test_get_data_usage_errors_are_the_multi_line_520():
    channel = asterisk()
    assert (
        talk(channel, "GET DATA", "get data")
        == [
            "520-Invalid command syntax.  Proper usage follows:\n"
            "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
            "Returns the digits received from the channel at the other end.\n"
            "520 End of proper usage.\n"
        ]
        * 2
    )
    assert len(channel.transcript.errors) == 2


# RECORD FILE.


def test_record_ended_by_a_key_trims_the_last_200_ms(tmp_path):
    channel = asterisk("say tone 10s then press #")
    path = tmp_path / "msg"
    assert talk(channel, f'RECORD FILE "{path}" "wav" "#" "60000" "BEEP" "s=3"') == [
        "200 result=35 (dtmf) endpos=78400\n"
    ]
    assert wav_shape(tmp_path / "msg.wav") == (8000, 2, 1, 78400)
    assert channel.transcript.heard == [Heard("beep", length("beep") / 8000)]
    assert channel.transcript.recordings == [Recorded(str(path) + ".wav", 9.8, "key #")]
    assert channel.clock == length("beep") + 80000


def test_record_ended_by_silence_keeps_about_one_second_and_reports_the_ms_left(tmp_path):
    # 2 s of tone, then silence: 100 + 151 frames of 20 ms until more than 3 s of silence, cut back by 2 s.
    # result= is what res_agi.c prints: ast_waitfor()'s ms left of the 60 s maximum (60000 - 5020).
    channel = asterisk("say tone 2s")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "s=3"') == [
        "200 result=54980 (timeout) endpos=24160\n"
    ]
    assert wav_shape(tmp_path / "msg.wav")[3] == 24160
    assert channel.transcript.recordings[0].ended_by == "silence"
    assert channel.transcript.heard == []  # no BEEP asked


def test_record_ended_by_silence_without_a_max_time(tmp_path):
    channel = asterisk("say tone 1s")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "-1" "s=1"') == [
        "200 result=99980 (timeout) endpos=16160\n"
    ]


def test_record_ended_by_the_max_time(tmp_path):
    channel = asterisk("say tone 10s")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "5000" "BEEP" "s=3"') == [
        "200 result=0 (timeout) endpos=40000\n"
    ]
    assert wav_shape(tmp_path / "msg.wav")[3] == 40000


def test_record_with_a_hangup_keeps_the_partial_file_then_says_hangup(tmp_path):
    channel = asterisk("hangup after 2s")
    assert talk(
        channel,
        f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "BEEP" "s=5"',
        'SET VARIABLE "X" "1"',
        'STREAM FILE "vm-goodbye" ""',
    ) == ["200 result=-1 (hangup) endpos=16000\nHANGUP\n", "200 result=1\n", DEAD]
    assert wav_shape(tmp_path / "msg.wav")[3] == 16000
    assert channel.transcript.caller_hung_up and channel.finish().ok


def test_record_then_hangup_after_the_speech(tmp_path):
    channel = asterisk("say tone 3s then hangup")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "BEEP" "s=5"') == [
        "200 result=-1 (hangup) endpos=24000\nHANGUP\n"
    ]
    with wave.open(str(tmp_path / "msg.wav")) as wav:
        assert max(wav.readframes(8000)) > 0  # the tone, not silence


def test_record_ended_at_once_by_a_key_is_empty(tmp_path):
    channel = asterisk("press #")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "BEEP" "s=5"') == [
        "200 result=35 (dtmf) endpos=0\n"
    ]
    assert wav_shape(tmp_path / "msg.wav")[3] == 0


def test_a_key_the_recording_does_not_accept_is_kept_for_the_next_command(tmp_path):
    channel = asterisk("say tone 1s then press 5")
    assert talk(
        channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "s=2"', 'WAIT FOR DIGIT "100"'
    ) == ["200 result=56980 (timeout) endpos=16160\n", "200 result=53\n"]


def test_record_a_given_audio_file_converted_to_8khz(tmp_path):
    source = tmp_path / "hello.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(source), "synth", "1.5", "sine", "300"],
        check=True,
    )
    channel = asterisk(f"say {source} then press #")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "60000" "BEEP" "s=3"') == [
        "200 result=35 (dtmf) endpos=10400\n"
    ]
    assert wav_shape(tmp_path / "msg.wav") == (8000, 2, 1, 10400)


@pytest.mark.parametrize(
    ("extra", "beep", "silence_stop"),
    [
        ('"BEEP" "s=3"', True, True),
        ('"s=3" "BEEP"', True, True),
        ('"0" "BEEP" "s=3"', True, True),
        ('"s=3"', False, True),
        ('"0"', False, False),
        ("", False, False),
        ('"BEEP"', True, False),
    ],
)
def test_record_reads_offset_beep_and_silence_in_any_order(tmp_path, extra, beep, silence_stop):
    channel = asterisk("say tone 1s")
    reply = talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "10000" {extra}')[0]
    assert (channel.transcript.heard == [Heard("beep", length("beep") / 8000)]) is beep
    assert reply == (
        "200 result=5980 (timeout) endpos=16160\n"
        if silence_stop
        else "200 result=0 (timeout) endpos=80000\n"
    )


def test_record_with_an_offset_keeps_the_start_of_the_existing_file(tmp_path):
    channel = asterisk("say tone 2s then press #; say tone 1s then press #")
    assert talk(
        channel,
        f'RECORD FILE "{tmp_path}/msg" "wav" "#" "-1"',
        f'RECORD FILE "{tmp_path}/msg" "wav" "#" "-1" "8000"',
    ) == ["200 result=35 (dtmf) endpos=14400\n", "200 result=35 (dtmf) endpos=14400\n"]
    assert wav_shape(tmp_path / "msg.wav")[3] == 8000 + 8000 - 1600


def test_record_into_a_missing_directory_is_writefile(tmp_path):
    channel = asterisk("say tone 1s")
    assert talk(
        channel,
        f'RECORD FILE "{tmp_path}/nowhere/msg" "wav" "#" "-1" "s=2"',
        'RECORD FILE "relative/msg" "wav" "#" "-1"',
    ) == ["200 result=-1 (writefile)\n", "200 result=-1 (writefile)\n"]
    assert (
        "does not exist" in channel.transcript.errors[0]
        and "relative" in channel.transcript.errors[1]
    )
    assert not (tmp_path / "nowhere").exists()


def test_record_forever_with_nothing_to_end_it_is_an_error(tmp_path):
    channel = asterisk("say tone 1s")
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "-1"') == [
        "200 result=-1 (hangup) endpos=8000\nHANGUP\n"
    ]
    assert "record forever" in channel.transcript.errors[0]


def test_record_without_a_beep_sound_is_randomerror(tmp_path):
    channel = Asterisk(parse_script("say tone 1s"), CHANNEL, tmp_path)
    assert talk(channel, f'RECORD FILE "{tmp_path}/msg" "wav" "#" "-1" "1600" "BEEP"') == [
        "200 result=-1 (randomerror) endpos=1600\n"
    ]
    assert "'beep' not found" in channel.transcript.errors[0]
    assert not (tmp_path / "msg.wav").exists()


def test_a_missing_sounds_directory_is_reported_at_once(tmp_path):
    channel = Asterisk((), CHANNEL, tmp_path / "nowhere")
    assert "asterisk-core-sounds-en-wav" in channel.transcript.errors[0]


def test_record_file_with_missing_arguments_is_the_multi_line_520():
    channel = asterisk()
    assert (
        talk(channel, 'RECORD FILE "/tmp/x" "wav" "#"', 'RECORD FILE "/tmp/x" "wav" "#" "soon"')
        == [
            "520-Invalid command syntax.  Proper usage follows:\n"
            "Record to a file until a given dtmf digit in the sequence is received. Returns <literal>-1</literal> on "
            "hangup or error.  The format will specify what kind of file will be recorded. The <replaceable>timeout"
            "</replaceable> is the maximum record time in milliseconds, or <literal>-1</literal> for no <replaceable>"
            "timeout</replaceable>. <replaceable>offset samples</replaceable> is optional, and, if provided, will seek "
            "to the offset without exceeding the end of the file. <replaceable>silence</replaceable> is the number of "
            "seconds of silence allowed before the function returns despite the lack of dtmf digits or reaching "
            "<replaceable>timeout</replaceable>. <replaceable>silence</replaceable> value must be preceded by "
            "<literal>s=</literal> and is also optional.\n"
            "520 End of proper usage.\n"
        ]
        * 2
    )
    assert len(channel.transcript.errors) == 2


def test_other_syntax_errors_and_the_single_line_form():
    channel = asterisk()
    replies = talk(
        channel,
        'STREAM FILE "vm-goodbye"',
        "WAIT FOR DIGIT",
        'WAIT FOR DIGIT "x"',
        'SAY NUMBER "x" ""',
        "GET VARIABLE",
        'HANGUP "a" "b"',
    )
    assert all(
        reply.startswith("520-Invalid command syntax.  Proper usage follows:\n")
        for reply in replies
    )
    assert all(reply.endswith("\n520 End of proper usage.\n") for reply in replies)
    assert [reply.count("\n") for reply in replies] == [
        3,
        3,
        3,
        3,
        4,
        3,
    ]  # one line per paragraph of usage
    # A command without documentation (none of those the simulator emulates) gets the single-line form.
    assert Command("gosub", False).usage() == [NO_USAGE]
    assert NO_USAGE == "520 Invalid command syntax.  Proper usage not available.\n"


# Unknown commands.


def test_unknown_commands_get_510_and_fail_the_call():
    channel = asterisk()
    assert (
        talk(channel, "FOO BAR", "STREAM", "", 'GET OPTION "vm-login" "#" "3000"')
        == ["510 Invalid or unknown command\n"] * 4
    )
    errors = channel.finish().errors
    assert len(errors) == 4 and "does not emulate" in errors[3]


def test_a_crlf_line_ending_is_reported_and_the_cr_kept_as_asterisk_does():
    channel = asterisk()
    assert talk(channel, "ANSWER\r", 'STREAM FILE "vm-goodbye" "#"\r') == [
        "510 Invalid or unknown command\n",
        f"200 result=0 endpos={length('vm-goodbye')}\n",
    ]
    errors = channel.transcript.errors
    assert (
        len(errors) == 3
        and "CR LF" in errors[0]
        and "not an AGI command" in errors[1]
        and "CR LF" in errors[2]
    )


# Hang-ups.


def test_caller_hangup_between_commands_comes_before_the_next_reply():
    channel = asterisk("hangup")
    assert talk(
        channel,
        "ANSWER",
        'SET VARIABLE "A" "1"',
        'GET VARIABLE "A"',
        'VERBOSE "bye" 1',
        "NOOP",
        'STREAM FILE "vm-goodbye" ""',
    ) == [
        "HANGUP\n" + DEAD,
        "200 result=1\n",
        "200 result=1 (1)\n",
        "200 result=1\n",
        "200 result=0\n",
        DEAD,
    ]
    transcript = channel.finish()
    assert transcript.caller_hung_up
    assert "already refused" in transcript.errors[0]  # the server ignored the first 511


def test_caller_hangup_during_a_prompt_a_say_and_a_wait():
    for command, reply in [
        ('STREAM FILE "vm-intro" "#"', "200 result=-1 endpos=4000\n"),
        ('SAY NUMBER "1234" "#"', "200 result=-1\n"),
        ('WAIT FOR DIGIT "5000"', "200 result=-1\n"),
    ]:
        channel = asterisk("hangup after 0.5s")
        assert talk(channel, command, "ANSWER") == [reply + "HANGUP\n", DEAD]
        assert channel.transcript.call_seconds == 0.5


def test_a_timed_hangup_carries_over_to_the_next_command():
    channel = asterisk("hangup after 1s")
    assert talk(channel, 'STREAM FILE "digits/1" ""', 'WAIT FOR DIGIT "5000"') == [
        f"200 result=0 endpos={length('digits/1')}\n",
        "200 result=-1\nHANGUP\n",
    ]
    assert channel.clock == 8000


def test_the_server_hangs_up():
    channel = asterisk()
    assert talk(channel, "HANGUP", 'STREAM FILE "vm-goodbye" ""', 'SET VARIABLE "A" "1"') == [
        "200 result=1\nHANGUP\n",
        DEAD,
        "200 result=1\n",
    ]
    assert channel.transcript.server_hung_up and not channel.transcript.caller_hung_up


def test_hangup_of_another_channel_is_minus_1():
    channel = asterisk()
    assert talk(channel, 'HANGUP "PJSIP/9999-00000009"', "HANGUP PJSIP/1002-00000001") == [
        "200 result=-1\n",
        "200 result=1\nHANGUP\n",
    ]


def test_unused_script_steps_fail_the_call_but_a_final_hangup_does_not():
    assert asterisk("hangup").finish().ok
    transcript = asterisk("press 1; say tone 2s; hangup").finish()
    assert transcript.errors == [
        "the call ended before the script was played out; unused: press 1; say tone 2s"
    ]
