"""The SMTP server of the email benchmark: aiosmtpd accepting everything, in a process of its own so its CPU
does not mix with the sender's.

Run as `python smtp_sink.py`; prints `ready <port>`, then one `accepted <unix time> <bytes> <Message-ID>`
line per email it accepted; serves until its standard input closes.
"""

import asyncio
import re
import sys
import time

from aiosmtpd.smtp import SMTP

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>]*>)", re.I | re.M)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        match = _MESSAGE_ID.search(content[:4096].replace(b"\r\n ", b" "))
        sys.stdout.write(
            f"accepted {time.time():.6f} {len(content)} {match[1].decode() if match else '-'}\n"
        )
        sys.stdout.flush()
        return "250 OK"


async def main() -> None:
    loop = asyncio.get_running_loop()
    handler = Sink()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", loop=loop), "127.0.0.1", 0
    )
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()  # until the benchmark closes our standard input
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
