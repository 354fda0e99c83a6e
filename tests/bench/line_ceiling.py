"""The ceiling for the FastAGI benchmark: a bare asyncio server that answers every line with one line.

Run as `python line_ceiling.py PORT`; it serves until killed.
"""

import asyncio
import sys


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.readline():
        writer.write(b"200 result=0\n")
        await writer.drain()
    writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
