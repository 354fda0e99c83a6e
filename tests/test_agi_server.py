"""The FastAGI server against misbehaving peers, over real loopback TCP.

The handler here is minimal (ANSWER, then SET VARIABLE with what it saw) so the tests are about the
connection handling: header blocks, out-of-band HANGUP, multi-line 520, EOF, silence, many peers.
"""

import asyncio

import pytest

from ivr.agi.connection import CallGone
from ivr.agi.protocol import header_block, split_command
from ivr.agi.server import FastAgiServer

HEADERS = {
    "agi_network": "yes",
    "agi_network_script": "probe",
    "agi_uniqueid": "1.1",
    "agi_channel": "PJSIP/1-1",
}


class Recorder:
    """A call handler that answers and reports what happened to each call."""

    def __init__(self):
        self.outcomes: list[str] = []
        self.done = asyncio.Event()
        self.expected = 1

    async def __call__(self, connection, request):
        try:
            first = await connection.send("ANSWER\n")
            second = await connection.send(
                f'SET VARIABLE "SEEN" "{request.script}:{first.result}"\n'
            )
            self.outcomes.append(f"ok {second.result} hung_up={connection.hung_up}")
        except CallGone as exc:
            self.outcomes.append(f"gone: {exc}")
        finally:
            if len(self.outcomes) >= self.expected:
                self.done.set()


@pytest.fixture
async def server():
    recorder = Recorder()
    agi = FastAgiServer(recorder, header_timeout_s=0.5, reply_timeout_s=5)
    host, port = await agi.start("127.0.0.1", 0)
    yield recorder, host, port
    await agi.stop()


async def connect(host, port):
    return await asyncio.open_connection(host, port)


async def read_command(reader) -> list[str]:
    return split_command((await reader.readline()).decode())


async def healthy_call(host, port) -> list[list[str]]:
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    commands = [await read_command(reader)]
    writer.write(b"200 result=0\n")
    commands.append(await read_command(reader))
    writer.write(b"200 result=1\n")
    await writer.drain()
    assert await reader.read() == b""  # the server closes when the call is done
    writer.close()
    return commands


async def test_a_healthy_call(server):
    recorder, host, port = server
    assert await healthy_call(host, port) == [["ANSWER"], ["SET", "VARIABLE", "SEEN", "probe:0"]]
    await recorder.done.wait()
    assert recorder.outcomes == ["ok 1 hung_up=False"]


@pytest.mark.parametrize(
    "garbage",
    [
        b"agi_network: yes\nagi_channel: PJSIP/1-1\n",  # cut off before the blank line, then EOF
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not AGI at all
        b"\n",  # an empty block
        b"agi_network: yes\n" + b"x" * 100_000 + b"\n\n",  # an absurdly long line
    ],
)
async def test_a_broken_header_block_closes_that_connection_only(server, garbage):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(garbage)
    writer.write_eof()
    assert await reader.read() == b""
    writer.close()
    assert recorder.outcomes == []
    assert await healthy_call(host, port)  # the server still serves


async def test_a_silent_peer_is_dropped_after_the_header_timeout(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(b"agi_network: yes\n")  # and then nothing
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_hangup_line_after_a_result_is_a_notification_not_a_reply(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    assert await read_command(reader) == ["ANSWER"]
    writer.write(b"200 result=-1\nHANGUP\n")
    assert (await read_command(reader))[:2] == ["SET", "VARIABLE"]
    writer.write(b"200 result=1\n")
    await writer.drain()
    await recorder.done.wait()
    assert recorder.outcomes == ["ok 1 hung_up=True"]  # the reply to SET VARIABLE was not shifted
    writer.close()


async def test_multi_line_520_is_read_whole(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    await read_command(reader)
    writer.write(
        b"520-Invalid command syntax.  Proper usage follows:\n Usage: ANSWER\n  Answers the channel.\n"
        b"520 End of proper usage.\n"
    )
    await read_command(reader)
    writer.write(b"200 result=1\n")
    await recorder.done.wait()
    assert recorder.outcomes == ["ok 1 hung_up=False"]
    writer.close()


async def test_eof_mid_command_means_the_call_is_gone(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    await read_command(reader)
    writer.close()
    await recorder.done.wait()
    assert recorder.outcomes[0].startswith("gone: connection closed")


async def test_511_means_the_call_is_gone(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    await read_command(reader)
    writer.write(b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")
    await recorder.done.wait()
    assert recorder.outcomes == ["gone: command refused on a dead channel (511)"]
    writer.close()


async def test_interim_100_lines_are_skipped(server):
    recorder, host, port = server
    reader, writer = await connect(host, port)
    writer.write(header_block(HEADERS))
    await read_command(reader)
    writer.write(b"100 result=0 Trying...\n200 result=0\n")
    await read_command(reader)
    writer.write(b"200 result=1\n")
    await recorder.done.wait()
    assert recorder.outcomes == ["ok 1 hung_up=False"]
    writer.close()


async def test_many_connections_some_misbehaving_all_healthy_calls_complete(server):
    recorder, host, port = server
    recorder.expected = 150

    async def misbehave(kind: int):
        reader, writer = await connect(host, port)
        if kind == 0:
            writer.write(b"agi_network: yes\n")  # silent after one line
        elif kind == 1:
            writer.write(b"garbage\n")
        else:
            writer.write(b"agi_network: yes\nagi_channel: x\n")
            writer.write_eof()
        await reader.read()
        writer.close()

    results = await asyncio.gather(
        *(healthy_call(host, port) for _ in range(150)), *(misbehave(n % 3) for n in range(50))
    )
    await recorder.done.wait()
    assert all(
        result == [["ANSWER"], ["SET", "VARIABLE", "SEEN", "probe:0"]] for result in results[:150]
    )
    assert recorder.outcomes.count("ok 1 hung_up=False") == 150
