"""A real webhook receiver on 127.0.0.1 for alert tests: it checks each request's
HMAC-SHA256 signature, records what arrived and when, and can be told to answer 500,
to hang, or to be down (its port closed) for a while. `hang()` holds requests open until
`release()` and notices when their sender gives up (`abandoned`).

    with WebhookReceiver(secret) as receiver:
        ... receiver.url ...
        receiver.wait_for(1)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import select
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.server import free_port

HOLD_LIMIT = 60.0  # seconds a held request waits for release() at most
DRIP_BYTES = 60


def _hung_up(connection: socket.socket) -> bool:
    """The peer closed its side (the whole body was already read: nothing else is due)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@dataclass
class Received:
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    signature_valid: bool
    at: float  # time.monotonic() on arrival


class WebhookReceiver:
    def __init__(self, secret: str, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.received: list[Received] = []  # every request, retries included
        self.status = 200
        self.delay = 0.0  # seconds to wait before answering (a slow or hanging receiver)
        # > 0: answer with a body of DRIP_BYTES trickled one byte every `drip` seconds, so
        # that no single read waits long (per-read timeouts never fire).
        self.drip = 0.0
        # Every request as it arrives, before any wait: (Idempotency-Key, time.monotonic()).
        self.arrivals: list[tuple[str, float]] = []
        # Held requests whose sender hung up before an answer (it timed out or died); they are
        # not in `received`: (Idempotency-Key, time.monotonic() when the hang-up was seen).
        self.abandoned: list[tuple[str, float]] = []
        self._to_hold = 0
        self._holding = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), raw, hashlib.sha256).hexdigest()
                )
                signature = self.headers.get("X-Safebed-Signature", "")
                if not receiver._arrive(self.headers.get("Idempotency-Key", ""), self.connection):
                    self.close_connection = True  # the sender is gone: nobody to answer
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            body=json.loads(raw or b"{}"),
                            raw=raw,
                            headers={k: v for k, v in self.headers.items()},
                            signature_valid=hmac.compare_digest(expected, signature),
                            at=time.monotonic(),
                        )
                    )
                if receiver.drip:
                    receiver._trickle(self, self.headers.get("Idempotency-Key", ""))
                    return
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: deliveries now fail with 'connection refused'."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.stop()

    # Holding requests open (a receiver that hangs until told otherwise)

    def hang(self, requests: int = 1) -> None:
        """Hold the next `requests` requests open, unanswered, until release() (at most
        HOLD_LIMIT seconds) or until their sender hangs up (see `abandoned`)."""
        with self._lock:
            self._to_hold += requests
            self._released.clear()

    def release(self) -> None:
        """Answer the held requests now (their senders may be gone), hold no more."""
        with self._lock:
            self._to_hold = 0
            self._released.set()

    def holding(self) -> int:
        """How many requests are held open right now."""
        with self._lock:
            return self._holding

    def _trickle(self, handler: BaseHTTPRequestHandler, key: str) -> None:
        handler.send_response(self.status)
        handler.send_header("Content-Length", str(DRIP_BYTES))
        handler.end_headers()
        handler.close_connection = True
        try:
            for _ in range(DRIP_BYTES):
                time.sleep(self.drip)
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:  # the sender hung up
            with self._lock:
                self.abandoned.append((key, time.monotonic()))

    def _arrive(self, key: str, connection: socket.socket) -> bool:
        """Note the arrival; hold the request if asked. False when its sender hung up."""
        with self._lock:
            self.arrivals.append((key, time.monotonic()))
            held = self._to_hold > 0
            if held:
                self._to_hold -= 1
                self._holding += 1
        if not held:
            return True
        try:
            deadline = time.monotonic() + HOLD_LIMIT
            while not self._released.wait(0.02) and time.monotonic() < deadline:
                if _hung_up(connection):
                    with self._lock:
                        self.abandoned.append((key, time.monotonic()))
                    return False
            return True
        finally:
            with self._lock:
                self._holding -= 1

    # What arrived

    def accepted(self) -> list[Received]:
        """Every request received so far (retries included)."""
        with self._lock:
            return list(self.received)

    def keys(self) -> list[str]:
        with self._lock:
            return [r.headers.get("Idempotency-Key", "") for r in self.received]

    def of_kind(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.body.get("alert", {}).get("kind") == kind]

    def wait_for(
        self, count: int, timeout: float = 10.0, kind: str | None = None
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of_kind(kind) if kind else self.accepted()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = self.of_kind(kind) if kind else self.accepted()
        raise AssertionError(f"expected {count} webhook requests, got {len(got)}")
