"""Serving the JSON API to a team: waitress, bounded work, an optional token, an access log and /metrics.

`python -m dashboard.server.api` serves the Flask app (dashboard.server.api.create_app) through waitress, a
pure-Python production WSGI server, and wraps it in one WSGI layer (`Guard`) that:

- **bounds the work**: POST requests (the ones that decode images and run models) pass a gate of
  `workers` slots and `queue` waiting places; when both are full the request is answered at once
  with 503 and `Retry-After`, instead of piling up. GETs are cheap and are not gated. waitress gets
  workers + queue + a few spare threads, so a 503, /health or /metrics never waits for a model.
- **checks a token** when $CIFAKE_API_TOKEN is set: every route except GET /health (for load
  balancers and liveness probes) answers 401 without `Authorization: Bearer <token>`. HTTP Basic
  with the token as the password is accepted too, so a browser can use the upload page at `/`
  (it asks for a user name, which is ignored, and the password).
- **logs one JSON line per request** (stdout by default): time, request id (the client's
  X-Request-ID when sane, else a new one, echoed in the response), method, path, model, bytes in
  and out, status, latency_ms and queued_ms.
- **serves GET /metrics** in Prometheus text format (prometheus_client, a registry per app):
  requests by route and status, a latency histogram per route, models loaded, and the gate's
  busy workers and queue depth.

Uploads are read by waitress and Werkzeug, which keep a body in memory up to about 512 KB and
spool larger ones to anonymous temporary files (unlinked at once, gone when the request ends); put
TMPDIR on a tmpfs to keep them off disk altogether.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

TOKEN_ENV, WORKERS_ENV, QUEUE_ENV = "CIFAKE_API_TOKEN", "CIFAKE_API_WORKERS", "CIFAKE_API_QUEUE"
# Requests inside share their model passes (model_zoo.judge.judge batches concurrent uploads), so more of them at
# once means bigger batches, not more CPU threads: 16 on 2 cores took the 16-client p99 from 1.0-1.3 s to 0.4 s.
DEFAULT_WORKERS = 16
DEFAULT_QUEUE = 64  # room for 64 clients waiting at once before anyone is turned away
SPARE_THREADS = 4  # answer 503s, /health and /metrics while every worker is busy
PUBLIC_PATHS = frozenset({"/health"})
MODEL_KEY = "cifake.model"  # environ key: the model a POST asked for, for the access log
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class ServingSettings:
    workers: int = DEFAULT_WORKERS  # POST requests doing model work at once
    queue: int = DEFAULT_QUEUE  # POST requests waiting for a worker; one more is a 503
    token: str | None = None  # required bearer token; None: the API is open
    retry_after: int = 1  # seconds, sent with every 503 from the gate
    access_log: IO[str] | None = field(default=None, compare=False)  # None: stdout

    @property
    def threads(self) -> int:
        """waitress worker threads: every admitted request holds one, plus spares for quick answers."""
        return self.workers + self.queue + SPARE_THREADS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServingSettings:
        env = os.environ if env is None else env
        return cls(workers=_count(env, WORKERS_ENV, DEFAULT_WORKERS, minimum=1),
                   queue=_count(env, QUEUE_ENV, DEFAULT_QUEUE, minimum=0),
                   token=env.get(TOKEN_ENV, "").strip() or None)


def _count(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} must be a whole number") from None
    if value < minimum:
        raise ValueError(f"{name}={value} must be at least {minimum}")
    return value


class Gate:
    """At most `workers` requests inside and `queue` more waiting; try_enter refuses the rest at once."""

    def __init__(self, workers: int, queue: int):
        self.capacity = workers + queue
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self.admitted = 0  # inside + waiting
        self.working = 0

    def try_enter(self) -> bool:
        with self._lock:
            if self.admitted >= self.capacity:
                return False
            self.admitted += 1
        self._slots.acquire()  # waits in the queue for a worker slot
        with self._lock:
            self.working += 1
        return True

    def leave(self) -> None:
        with self._lock:
            self.working -= 1
            self.admitted -= 1
        self._slots.release()

    @property
    def waiting(self) -> int:
        return self.admitted - self.working


class Metrics:
    """The app's Prometheus series, in a registry of its own (several apps in one process do not collide)."""

    def __init__(self, gate: Gate, models_loaded: int):
        self.registry = CollectorRegistry()
        self.requests = Counter("cifake_api_requests", "HTTP requests answered, by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("cifake_api_request_duration_seconds", "Time from request to full response",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        Gauge("cifake_api_models_loaded", "Zoo models loaded and served", registry=self.registry).set(models_loaded)
        Gauge("cifake_api_workers_busy", "POST requests doing model work now",
              registry=self.registry).set_function(lambda: gate.working)
        Gauge("cifake_api_queue_depth", "POST requests waiting for a worker",
              registry=self.registry).set_function(lambda: gate.waiting)
        Gauge("cifake_api_queue_capacity", "Workers plus queue places; beyond this a POST gets 503",
              registry=self.registry).set(gate.capacity)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class AccessLog:
    """One JSON object per line; a lock keeps lines from concurrent requests whole."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line)
            stream.flush()


def token_matches(header: str, token: str) -> bool:
    """`Bearer <token>`, or Basic with the token as the password (browsers); compared in constant time."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


class Guard:
    """WSGI layer around the Flask app: request id, token, gate for POSTs, /metrics, access log."""

    def __init__(self, app: Flask, inner: Callable, settings: ServingSettings):
        self.app, self.inner, self.settings = app, inner, settings
        self.gate = Gate(settings.workers, settings.queue)
        self.metrics = Metrics(self.gate, len(app.extensions.get("zoo_models", {})))
        self.log = AccessLog(settings.access_log)
        self._routes: frozenset[str] | None = None

    def route(self, path: str) -> str:
        """The path when it is one of the app's routes (or /metrics), else 'other': bounded label values."""
        if self._routes is None:
            self._routes = frozenset(rule.rule for rule in self.app.url_map.iter_rules()) | {"/metrics"}
        return path if path in self._routes else "other"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "") or "/"
        queued = 0.0
        gated = False
        if self.settings.token and path not in PUBLIC_PATHS and not token_matches(
                environ.get("HTTP_AUTHORIZATION", ""), self.settings.token):
            status, headers, body = _json(401, "this API needs a token: send the header "
                                               "'Authorization: Bearer <token>' (CIFAKE_API_TOKEN on the server)")
            headers += [("WWW-Authenticate", 'Bearer realm="cifake-api"'), ("WWW-Authenticate", 'Basic realm="cifake-api"')]
        elif path == "/metrics" and method in ("GET", "HEAD"):
            status, headers, body = "200 OK", [("Content-Type", CONTENT_TYPE_LATEST)], self.metrics.exposition()
        elif method == "POST" and not (gated := self.gate.try_enter()):
            status, headers, body = _json(503, f"the server is busy ({self.gate.capacity} requests in progress or "
                                               f"waiting); retry in {self.settings.retry_after} s")
            headers.append(("Retry-After", str(self.settings.retry_after)))
        else:
            queued = time.perf_counter() - start
            try:
                status, headers, body = _call(self.inner, environ)
            finally:
                if gated:
                    self.gate.leave()
        headers.append(("X-Request-ID", request_id))
        start_response(status, headers)
        seconds = time.perf_counter() - start
        code = int(status.split(" ", 1)[0])
        self.metrics.observe(self.route(path), code, seconds)
        self.log.write({
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"), "id": request_id, "method": method,
            "path": path, "model": environ.get(MODEL_KEY), "bytes": _content_length(environ),
            "response_bytes": len(body), "status": code, "latency_ms": round(seconds * 1000, 2),
            "queued_ms": round(queued * 1000, 2), "client": environ.get("REMOTE_ADDR"),
        })
        return [body]


def _content_length(environ: Mapping[str, Any]) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _json(code: int, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    reason = {401: "Unauthorized", 503: "Service Unavailable"}[code]
    return f"{code} {reason}", [("Content-Type", "application/json")], json.dumps({"error": message}).encode()


def _call(inner: Callable, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the inner WSGI app to completion: its responses are small JSON or HTML, so the body is buffered
    (the latency logged is then the whole response's)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
        captured["status"], captured["headers"] = status, list(headers)
        return lambda data: captured.setdefault("written", []).append(data)

    result = inner(environ, start_response)
    try:
        body = b"".join([*captured.get("written", []), *result])
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return captured["status"], captured["headers"], body


def install(app: Flask, settings: ServingSettings | None = None) -> Guard:
    """Wrap `app` (in place) in the Guard; settings default to the environment ($CIFAKE_API_TOKEN, ...)."""
    settings = settings or ServingSettings.from_env()

    @app.before_request
    def note_model() -> None:
        # The form is parsed here rather than in the view; Werkzeug caches it, so this costs nothing extra.
        if request.method == "POST":
            request.environ[MODEL_KEY] = request.form.get("model") or "all"

    guard = Guard(app, app.wsgi_app, settings)
    app.wsgi_app = guard
    app.extensions["serving"] = guard
    return guard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serving options of `python -m dashboard.server.api` (defaults from $CIFAKE_API_WORKERS / _QUEUE)."""
    parser.add_argument("--workers", type=int, help=f"requests doing model work at once (default ${WORKERS_ENV}, "
                                                    f"else {DEFAULT_WORKERS}: the CPU cores, at most 4)")
    parser.add_argument("--queue", type=int, help=f"requests waiting for a worker before the API answers 503 "
                                                  f"(default ${QUEUE_ENV}, else {DEFAULT_QUEUE})")
    parser.add_argument("--access-log", default="-", metavar="PATH",
                        help="JSON-lines access log: '-' for stdout (default) or a file to append to")


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ServingSettings:
    """Environment defaults, overridden by --workers/--queue/--access-log; the token only ever comes from the
    environment (a command line is visible to every user of the machine)."""
    settings = ServingSettings.from_env(env)
    if args.workers is not None:
        settings = replace(settings, workers=max(1, args.workers))
    if args.queue is not None:
        settings = replace(settings, queue=max(0, args.queue))
    if args.access_log and args.access_log != "-":
        settings = replace(settings, access_log=open(args.access_log, "a", encoding="utf-8"))  # noqa: SIM115
    return settings


def make_server(app: Flask, host: str, port: int, settings: ServingSettings, max_body_bytes: int):
    """A waitress server for `app` (not yet running: call .run(); .close() stops it)."""
    from waitress import create_server

    return create_server(
        app, host=host, port=port, threads=settings.threads,
        connection_limit=max(100, settings.threads + 32),
        # waitress refuses bodies far over the app's own limit itself; a little over gets the app's JSON 413
        max_request_body_size=max_body_bytes + 2**20,
        asyncore_use_poll=True,  # no select() limit on open sockets
        ident="cifake-api",
    )
