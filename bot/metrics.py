"""Health and Prometheus metrics of `collbot serve`, on a small HTTP server bound to loopback.

In-process metrics (calls in flight, originates, outcomes, turn latency, recognition queue) are
updated where they happen; compliance skips are read from the ledger at scrape time, so they count
every process's decisions and survive restarts.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
CALLS_IN_FLIGHT = Gauge("collbot_calls_in_flight", "Calls dialling or talking now.", registry=REGISTRY)
ORIGINATES = Counter("collbot_originates", "Originate actions sent to Asterisk.", registry=REGISTRY)
OUTCOMES = Counter("collbot_outcomes", "Finished attempts by outcome (or network result when there is none).",
                   ["kind"], registry=REGISTRY)
TURN_LATENCY = Histogram("collbot_turn_latency_seconds",
                         "From the end of the customer's turn to the start of the robot's next prompt.",
                         buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0), registry=REGISTRY)
RECOGNITION_QUEUE = Gauge("collbot_recognition_queue_depth", "Recognition jobs queued or running.",
                          registry=REGISTRY)
# The overload governor (bot/campaign/load.py): its state and the readings it decides on.
GOVERNOR_HELD = Gauge("collbot_governor_held", "1 while the overload governor holds new Originates.",
                      registry=REGISTRY)
GOVERNOR_HOLDS = Counter("collbot_governor_holds", "Holds of new Originates, by the check that started them.",
                         ["check"], registry=REGISTRY)
GOVERNOR_HELD_SECONDS = Counter("collbot_governor_held_seconds", "Time new Originates were held.",
                                registry=REGISTRY)
GOVERNOR_CAP = Gauge("collbot_governor_cap", "Calls in flight the governor's ramp allows now (-1: no cap).",
                     registry=REGISTRY)
LOOP_LAG = Gauge("collbot_event_loop_lag_seconds", "Worst recent lateness of an event-loop timer.",
                 registry=REGISTRY)
RECOGNITION_WAIT = Gauge("collbot_recognition_wait_seconds",
                         "Slowest recent recognition job, queueing included.", registry=REGISTRY)
SYNTHESIS_QUEUE = Gauge("collbot_synthesis_queue_depth", "Prompt syntheses queued or running.",
                        registry=REGISTRY)
ASTERISK_CALLS = Gauge("collbot_asterisk_calls", "Calls in progress in Asterisk (AMI CoreStatus).",
                       registry=REGISTRY)
ASYNCIO_TASKS = Gauge("collbot_asyncio_tasks", "Tasks alive on the controller's event loop (a leak shows here).",
                      registry=REGISTRY)


class LedgerCollector(Collector):
    """collbot_compliance_skips_total{reason}: refused compliance decisions stored in the ledger."""

    def __init__(self, skips: Callable[[], dict[str, int]]):
        self._skips = skips

    def describe(self) -> Iterable[Any]:
        return [CounterMetricFamily("collbot_compliance_skips", "Calls the compliance gate refused, by reason.",
                                    labels=["reason"])]

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily("collbot_compliance_skips", "Calls the compliance gate refused, by reason.",
                                     labels=["reason"])
        try:
            counts = self._skips()
        except Exception as exc:  # a scrape must not take the daemon down; /health reports the store
            log.warning("metrics: cannot read compliance skips: %s", exc)
            counts = {}
        for reason, count in sorted(counts.items()):
            family.add_metric([reason], count)
        yield family


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics http: " + format, *args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class MetricsServer:
    """``/health`` (JSON, 503 when ``health`` says so) and ``/metrics`` on a daemon thread."""

    def __init__(self, host: str, port: int, *, health: Callable[[], dict[str, Any]],
                 skips: Callable[[], dict[str, int]] | None = None):
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Forward(REGISTRY))
        if skips is not None:
            self.registry.register(LedgerCollector(skips))
        self._health = health
        self._server = make_server(host, port, self._app, server_class=_Server, handler_class=_Quiet)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _app(self, environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body = generate_latest(self.registry)
            start("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path == "/health":
            try:
                state = self._health()
            except Exception as exc:
                state = {"status": "error", "error": type(exc).__name__}
            ok = state.get("status") == "ok"
            start("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps(state).encode()]
        start("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /health or /metrics\n"]


class _Forward(Collector):
    """The process-wide metrics, re-exported by each server's registry."""

    def __init__(self, source: CollectorRegistry):
        self._source = source

    def collect(self) -> Iterator[Any]:
        yield from self._source.collect()
