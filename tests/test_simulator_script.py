"""The call simulator's script language and the simulated caller, pure: tables of text in, steps out,
and of windows in, caller actions out."""

from pathlib import Path

import pytest

from ivr.simulator.caller import Caller, HangingUp, KeyPressed
from ivr.simulator.client import parse_caller_id
from ivr.simulator.script import (
    AudioFile,
    HangUp,
    Idle,
    Press,
    Say,
    ScriptError,
    Tone,
    describe,
    parse_duration,
    parse_script,
)

S = 8000  # samples per second

SCRIPTS = [
    ("", ()),
    ("press 1", (Press("1"),)),
    ("press 1234#", (Press("1"), Press("2"), Press("3"), Press("4"), Press("#"))),
    ("press 1 2 3", (Press("1"), Press("2"), Press("3"))),
    ("PRESS *a", (Press("*"), Press("A"))),
    ("press 8 after 3s", (Press("8", 3 * S),)),
    ("press 8 after 2.5 s", (Press("8", 20000),)),
    ("press # AFTER 500ms", (Press("#", 4000),)),
    ("wait", (Idle("wait"),)),
    ("silence", (Idle("silence"),)),
    ("say tone 10s", (Say(Tone(10 * S)),)),
    ("say tone 10s then press #", (Say(Tone(10 * S), Press("#")),)),
    ("say tone 1.5s then hangup", (Say(Tone(12000), HangUp()),)),
    ("say /tmp/hello.wav", (Say(AudioFile(Path("/tmp/hello.wav"))),)),
    (
        "say /tmp/my message.mp3 then press 1",
        (Say(AudioFile(Path("/tmp/my message.mp3")), Press("1")),),
    ),
    ("hangup", (HangUp(),)),
    ("hangup after 2s", (HangUp(2 * S),)),
    ("press 1; wait ;press 2", (Press("1"), Idle("wait"), Press("2"))),
    ("press 1\n\n  # a comment\nhangup\n", (Press("1"), HangUp())),
    ("press 1;;", (Press("1"),)),
]


@pytest.mark.parametrize(("text", "steps"), SCRIPTS)
def test_scripts_parse_to_steps(text, steps):
    assert parse_script(text) == steps


BAD_SCRIPTS = [
    ("pres 1", "step 1 ('pres 1'): unknown step"),
    ("press", "are not keys"),
    ("press 1x", "are not keys"),
    ("press 12 after 3s", "single key"),
    ("press 1 after 3", "write it with a unit"),
    ("press 1 after soon", "not a duration"),
    ("press 1; wait 3s", "step 2 ('wait 3s'): unknown step"),
    ("say", "needs `tone DURATION` or a file"),
    ("say tone", "not a duration"),
    ("say tone 5s then press 12", "`then press KEY` or `then hangup`"),
    ("say tone 5s then dance", "`then press KEY` or `then hangup`"),
    ("hangup now", "write `hangup` or `hangup after 2s`"),
    ("hangup after", "not a duration"),
]


@pytest.mark.parametrize(("text", "message"), BAD_SCRIPTS)
def test_bad_scripts_are_refused_with_the_step_named(text, message):
    with pytest.raises(ScriptError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_script(text)


def test_relative_say_files_are_taken_from_the_base_directory():
    assert parse_script("say hello.wav", base_dir=Path("/scripts")) == (
        Say(AudioFile(Path("/scripts/hello.wav"))),
    )
    assert parse_script("say /abs/hello.wav", base_dir=Path("/scripts")) == (
        Say(AudioFile(Path("/abs/hello.wav"))),
    )


@pytest.mark.parametrize(
    ("text", "samples"),
    [("3s", 24000), ("0.5s", 4000), ("500ms", 4000), ("1 S", 8000), ("20 ms", 160), ("0s", 0)],
)
def test_durations_are_samples_at_8khz(text, samples):
    assert parse_duration(text) == samples


@pytest.mark.parametrize(
    "text",
    [
        "press 1 after 3s",
        "wait",
        "silence",
        "say tone 10s then press #",
        "say /tmp/x.wav then hangup",
        "hangup",
        "hangup after 2.5s",
    ],
)
def test_steps_describe_back_to_their_text(text):
    (step,) = parse_script(text)
    assert describe(step) == text


CALLER_IDS = [
    ('"Alice Smith" <1002>', ("Alice Smith", "1002")),
    ("Alice <1002>", ("Alice", "1002")),
    ("<1002>", ("", "1002")),
    ("1002", ("", "1002")),
    ("+33612345678", ("", "+33612345678")),
    ("Alice", ("Alice", "")),
    ('"O\'Brien, \\ Jr" <55>', ("O'Brien, \\ Jr", "55")),
    ("", ("", "")),
]


@pytest.mark.parametrize(("text", "expected"), CALLER_IDS)
def test_caller_ids_split_into_name_and_number(text, expected):
    assert parse_caller_id(text) == expected


# The caller: (script, [(start, length, keys) per window]) -> actions.
WINDOWS = [
    ("press 1", [(0, 8000, "123")], [KeyPressed("1", 0)]),
    ("press 1", [(0, 8000, "#"), (8000, None, "0123456789")], [None, KeyPressed("1", 0)]),
    ("press 1", [(0, 8000, "")], [None]),
    ("press 8 after 3s", [(0, 40000, "8")], [KeyPressed("8", 24000)]),
    # The moment is fixed when a window first accepts the key; a shorter window leaves it for the next one.
    ("press 8 after 3s", [(0, 16000, "8"), (16000, 40000, "8")], [None, KeyPressed("8", 8000)]),
    (
        "press 8 after 3s",
        [(0, 16000, "8"), (16000, 16000, "#"), (32000, 8000, "8")],
        [None, None, KeyPressed("8", 0)],
    ),
    ("press 8 after 3s", [(0, 8000, "#"), (8000, 40000, "8")], [None, KeyPressed("8", 24000)]),
    ("wait; press 1", [(0, 8000, "1"), (8000, 8000, "1")], [None, KeyPressed("1", 0)]),
    (
        "wait; press 1",
        [(0, 8000, ""), (8000, 8000, "1"), (16000, 8000, "1")],
        [None, None, KeyPressed("1", 0)],
    ),
    ("hangup after 2s", [(0, 8000, ""), (8000, 80000, "#")], [None, HangingUp(8000)]),
    ("hangup after 2s", [(0, 80000, "")], [HangingUp(16000)]),
    ("say tone 5s; press 1", [(0, 8000, "1")], [None]),
    ("", [(0, None, "1")], [None]),
]


@pytest.mark.parametrize(("script", "windows", "actions"), WINDOWS)
def test_the_caller_acts_in_windows_as_documented(script, windows, actions):
    caller = Caller(parse_script(script))
    assert [caller.listen(start, length, keys) for start, length, keys in windows] == actions


def test_a_hangup_between_commands_comes_before_the_next_command():
    caller = Caller(parse_script("press 1; hangup"))
    assert not caller.hangs_up_now(0)
    assert caller.listen(0, 8000, "1") == KeyPressed("1", 0)
    assert caller.hangs_up_now(0)
    assert caller.left() == ()


def test_a_timed_hangup_whose_moment_passed_between_commands_happens_before_the_next_one():
    caller = Caller(parse_script("hangup after 1s"))
    assert caller.listen(0, 8000, "") is None  # ends exactly at the moment: the prompt played out
    assert caller.hangs_up_now(8000)


def test_speech_waits_for_a_recording_and_a_refused_key_is_kept():
    caller = Caller(parse_script("say tone 1s; press 2"))
    assert caller.waiting() and caller.listen(0, None, "0123456789") is None
    assert caller.speech() == Say(Tone(8000))
    caller.keep(Press("5"))
    assert caller.left() == (Press("5"), Press("2"))
