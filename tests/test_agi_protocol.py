"""The AGI protocol as text: quoting (injection-proof), Asterisk's argument splitting, reply parsing."""

import pytest

from ivr.agi.connection import parse_request
from ivr.agi.protocol import Reply, command, header_block, parse_reply, split_command

HOSTILE = [
    "plain",
    'Robert "Bobby" Tables',
    "line one\nHANGUP\nline two",
    'quote at end "',
    'back\\slash \\" mixed',
    "tab\tand\r\ncarriage",
    "",
    "ÄÖü ☎ 名前",
    '"; EXEC System "rm -rf /',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_quoted_argument_is_one_word_whatever_it_holds(text):
    line = command("SET VARIABLE", "NAME", text)
    assert line.endswith("\n") and line.count("\n") == 1
    words = split_command(line)
    assert words[:3] == ["SET", "VARIABLE", "NAME"]
    assert len(words) == 4
    expected = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    assert words[3] == expected


@pytest.mark.parametrize(
    "line, words",
    [
        ('STREAM FILE vm-goodbye "0123456789*#"', ["STREAM", "FILE", "vm-goodbye", "0123456789*#"]),
        ('STREAM FILE "vm intro" ""', ["STREAM", "FILE", "vm intro", ""]),
        ('SAY DIGITS 123 ""\n', ["SAY", "DIGITS", "123", ""]),
        (r'VERBOSE "a \"b\" c" 1', ["VERBOSE", 'a "b" c', "1"]),
        (r"VERBOSE a\ b 1", ["VERBOSE", "a b", "1"]),
        ("  ANSWER  ", ["ANSWER"]),
    ],
)
def test_split_command_follows_asterisks_parse_args(line, words):
    assert split_command(line) == words


@pytest.mark.parametrize(
    "line, reply",
    [
        ("200 result=0", Reply(200, "0", "", None, "200 result=0")),
        ("200 result=49 endpos=5600", Reply(200, "49", "", 5600, "200 result=49 endpos=5600")),
        ("200 result=-1 endpos=0", Reply(200, "-1", "", 0, "200 result=-1 endpos=0")),
        (
            "200 result=35 (dtmf) endpos=9612",
            Reply(200, "35", "dtmf", 9612, "200 result=35 (dtmf) endpos=9612"),
        ),
        (
            "200 result=-1 (hangup) endpos=16000",
            Reply(200, "-1", "hangup", 16000, "200 result=-1 (hangup) endpos=16000"),
        ),
        (
            "200 result=1234 (timeout)",
            Reply(200, "1234", "timeout", None, "200 result=1234 (timeout)"),
        ),
        ("200 result= (timeout)", Reply(200, "", "timeout", None, "200 result= (timeout)")),
        (
            "200 result=1 (Alice Smith)",
            Reply(200, "1", "Alice Smith", None, "200 result=1 (Alice Smith)"),
        ),
        ("510 Invalid or unknown command", Reply(510, text="510 Invalid or unknown command")),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            Reply(511, text="511 Command Not Permitted on a dead channel or intercept routine"),
        ),
    ],
)
def test_parse_reply(line, reply):
    assert parse_reply(line) == reply


def test_the_number_of_a_reply():
    assert parse_reply("200 result=49 endpos=1").number == 49
    assert parse_reply("200 result= (timeout)").number is None


@pytest.mark.parametrize("line", ["HANGUP", "", "hello", "20 result=0"])
def test_lines_that_are_not_replies_are_refused(line):
    with pytest.raises(ValueError):
        parse_reply(line)


def test_header_block_is_in_asterisks_order_with_arguments_and_a_blank_line():
    block = header_block(
        {
            "agi_channel": "PJSIP/1001-00000001",
            "agi_network": "yes",
            "agi_network_script": "leave",
            "agi_request": "agi://127.0.0.1/leave",
        },
        ["3000", "account=abc"],
    )
    assert block == (
        b"agi_network: yes\nagi_network_script: leave\nagi_request: agi://127.0.0.1/leave\n"
        b"agi_channel: PJSIP/1001-00000001\nagi_arg_1: 3000\nagi_arg_2: account=abc\n\n"
    )


def test_an_empty_network_script_header_is_left_out():
    assert b"agi_network_script" not in header_block(
        {"agi_network": "yes", "agi_network_script": ""}
    )


def test_request_parameters_come_from_query_strings_and_key_value_arguments():
    request = parse_request(
        {"agi_network_script": "leave?mailbox=3000&operator=100", "agi_uniqueid": "1.2"}
    )
    assert (request.script, request.parameters, request.arguments) == (
        "leave",
        {"mailbox": "3000", "operator": "100"},
        (),
    )
    request = parse_request(
        {"agi_network_script": "check", "agi_arg_1": "3000", "agi_arg_2": "account=ab12"}
    )
    assert (request.script, request.parameters, request.arguments) == (
        "check",
        {"account": "ab12"},
        ("3000",),
    )
    assert request.call_id == "unknown-call"
