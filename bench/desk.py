"""How long a screen pop takes to reach agents' desks, and what many open desks cost.

    .venv/bin/python bench/desk.py [--agents 1 50 200] [--pops 5]

Starts the real `collbot web` server on a free loopback port with a throwaway SQLite
database, logs N agents in (real login form, CSRF token included) and opens one event stream
per agent, as N browsers would. Then, from this process (another process than the server,
as the controller that transfers a call would be), pushes a screen pop to every agent at
once, ``--pops`` times, and measures from the push's commit until each agent's stream has
delivered the pop. Also reports the server's CPU while the N streams sit idle for 10 s.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain import Debtor  # noqa: E402
from bot.store.repo import open_store  # noqa: E402
from bot.web.live import pop_screen  # noqa: E402
from bot.web.passwords import hash_password  # noqa: E402
from bot.web.summary import CallSummary  # noqa: E402

PASSWORD = "bench password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def login(url: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    page = await client.get("/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = await client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token})
    assert done.status_code == 303, done.text
    return client


def run(agents: int, pops: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLLBOT__")}
        env.update(COLLBOT__DATABASE__URL=db, COLLBOT__LOG__FILE=f"{tmp}/c.log",
                   COLLBOT__WEB__SECRET_KEY_FILE=f"{tmp}/key")
        names = [f"agent{i:03d}" for i in range(agents)]
        with open_store(db) as store:
            digest = hash_password(PASSWORD)
            for name in names:
                store.add_web_user(name, digest, "agent")
            store.upsert_debtor(Debtor(id="B1", name="벤치", phone="+821012345678", amount=Decimal(350000)))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "bot", "web", "--port", str(port)], cwd=tmp, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            delays, idle_cpu = asyncio.run(measure(url, db, names, pops, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=20)
    delays.sort()
    p95 = delays[max(0, round(len(delays) * 0.95) - 1)]
    print(f"{agents:>4} desks: {len(delays)}/{agents * pops} pops delivered, push→desk "
          f"p50 {statistics.median(delays) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms; "
          f"server CPU with the streams idle {idle_cpu:.1f} % of a core")


class Arrivals:
    """When each (agent, event id) pop reached its stream; ``done`` is set once all expected did."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self.expected: set[tuple[str, int]] = set()
        self.done = asyncio.Event()

    def seen(self, key: tuple[str, int]) -> None:
        self.at[key] = time.monotonic()
        if self.expected and self.expected <= self.at.keys():
            self.done.set()


async def measure(url: str, db: str, names: list[str], pops: int, pid: int) -> tuple[list[float], float]:
    clients = [await login(url, n) for n in names]
    arrivals = Arrivals()
    streams = [asyncio.create_task(listen(c, n, arrivals)) for c, n in zip(clients, names, strict=True)]
    await asyncio.sleep(2)
    idle_from = cpu_seconds(pid)
    await asyncio.sleep(10)
    idle_cpu = (cpu_seconds(pid) - idle_from) / 10 * 100
    delays: list[float] = []
    summary = CallSummary("B1", "벤치", "350000", "KRW", "+8210******78", None, "", "bench")
    with open_store(db) as store:
        for _ in range(pops):
            arrivals.done.clear()
            sent = {}
            for name in names:  # one short transaction each, as a transfer would do
                event = pop_screen(store, name, summary)
                sent[(name, event)] = time.monotonic()
            arrivals.expected = set(sent)
            if not arrivals.expected <= arrivals.at.keys():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrivals.done.wait(), 30)
            delays += [arrivals.at[k] - t for k, t in sent.items() if k in arrivals.at]
            await asyncio.sleep(1)
    for task in streams:
        task.cancel()
    for client in clients:
        await client.aclose()
    return delays, idle_cpu


async def listen(client: httpx.AsyncClient, name: str, arrivals: Arrivals) -> None:
    async with client.stream("GET", "/desk/events", headers={"accept": "text/event-stream"}) as response:
        event_id = 0
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: screen_pop"):
                arrivals.seen((name, event_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--pops", type=int, default=5)
    args = parser.parse_args()
    for agents in args.agents:
        run(agents, args.pops)


if __name__ == "__main__":
    main()
