"""The FastAGI reply timeout, over real loopback TCP: a peer that stops answering in the middle of a
call is dropped once the reply timeout has passed (the call's handler sees TimeoutError, the server
logs it and closes), while a peer that answers keeps its call.
"""

import asyncio
import logging

import pytest

from ivr.agi.protocol import header_block, split_command
from ivr.agi.server import FastAgiServer

HEADERS = {"agi_network": "yes", "agi_network_script": "probe", "agi_uniqueid": "1.1"}
REPLY_TIMEOUT_S = 0.3


class TwoCommands:
    """A handler sending ANSWER then NOOP, noting how each call ended."""

    def __init__(self):
        self.outcomes: list[str] = []
        self.ended = asyncio.Event()

    async def __call__(self, connection, request):
        try:
            await connection.send("ANSWER\n")
            await connection.send("NOOP\n")
            self.outcomes.append("answered")
        except TimeoutError:
            self.outcomes.append("timed out")
            raise
        finally:
            self.ended.set()


@pytest.fixture
async def server():
    handler = TwoCommands()
    agi = FastAgiServer(handler, header_timeout_s=5, reply_timeout_s=REPLY_TIMEOUT_S)
    host, port = await agi.start("127.0.0.1", 0)
    yield handler, host, port
    await agi.stop()


async def test_a_peer_that_stops_answering_is_dropped_after_the_reply_timeout(server, caplog):
    handler, host, port = server
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(header_block(HEADERS))
    assert split_command((await reader.readline()).decode()) == ["ANSWER"]
    writer.write(b"200 result=0\n")
    assert split_command((await reader.readline()).decode()) == ["NOOP"]
    # ... and no reply to NOOP: the server gives up and closes.
    with caplog.at_level(logging.WARNING, logger="ivr.agi.server"):
        assert await asyncio.wait_for(reader.read(), 5) == b""
        await handler.ended.wait()
    assert handler.outcomes == ["timed out"]
    assert "stopped answering; closing" in caplog.text
    writer.close()


async def test_a_peer_that_answers_keeps_its_call(server):
    handler, host, port = server
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(header_block(HEADERS))
    for expected in (["ANSWER"], ["NOOP"]):
        assert split_command((await reader.readline()).decode()) == expected
        writer.write(b"200 result=0\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await handler.ended.wait()
    assert handler.outcomes == ["answered"]
    writer.close()
