"""FastAGI under a flood of silent peers: how many sessions are held, how many refused, how late the
event loop runs, and whether a well-behaved call still gets through.

    .venv/bin/python bench/agi_flood.py [--peers 3000] [--max-sessions 300] [--header-timeout 5]

Prints figures and asserts nothing. Each peer connects and sends nothing (the issue-10 case:
3,000 silent sessions were all accepted); a good call (header, one NOOP answered) is made while
they are connected.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from bot.config import AgiSettings
from bot.telephony.agi import AgiServer, AgiSession

HEADER = b"agi_network: yes\nagi_network_script: call\nagi_uniqueid: 1.1\n\n"


async def main(peers: int, max_sessions: int, header_timeout: float) -> None:
    settings = AgiSettings().model_copy(update={"port": 0, "max_sessions": max_sessions,
                                                "header_timeout_s": header_timeout})
    served = 0

    async def handler(session: AgiSession) -> None:
        nonlocal served
        await session.command("NOOP")
        served += 1

    lag_max = 0.0

    async def ticker() -> None:
        nonlocal lag_max
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lag_max = max(lag_max, time.monotonic() - before - 0.01)

    async with AgiServer(settings, handler) as server:
        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        conns = []
        for _ in range(peers):
            conns.append(await asyncio.open_connection("127.0.0.1", server.port))
        opened = time.monotonic() - started
        await asyncio.sleep(0.2)
        held = len(server._tasks)  # bench only: the server's own count of open sessions
        closed = sum(reader.at_eof() or reader.exception() is not None for reader, _ in conns)
        call_started = time.monotonic()
        for _ in range(200):  # room frees when a silent peer times out
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(HEADER)
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except (TimeoutError, ConnectionError):
                line = b""
            if line == b"NOOP\n":
                writer.write(b"200 result=0\n")
                await writer.drain()
                await reader.read()
                break
            writer.close()
            await asyncio.sleep(0.05)
        call_s = time.monotonic() - call_started
        for _, writer in conns:
            writer.close()
        ticking.cancel()
    print(f"peers {peers}, agi.max_sessions {max_sessions}, header timeout {header_timeout:g}s: "
          f"opened in {opened:.2f}s; held {held}, closed at once {closed}; "
          f"good call served {served == 1} after {call_s:.2f}s; event-loop lag max {lag_max * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=3000)
    parser.add_argument("--max-sessions", type=int, default=300)
    parser.add_argument("--header-timeout", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # a warning per timed-out peer is not the figure
    asyncio.run(main(args.peers, args.max_sessions, args.header_timeout))
