"""Run the app in a real uvicorn process on 127.0.0.1, for tests that need real HTTP and real
concurrent database connections (fuzzing, concurrency).

    with AppServer() as server:
        httpx.get(f"{server.url}/health")

The child inherits this process's environment (the test conftest has set DATABASE_URL,
APP_ENV=test and SECRET_KEY before anything started), plus whatever `env` adds. It runs
the app's lifespan itself (its own PostgreSQL pool) but, with APP_ENV=test, no migrations:
the database must already be migrated.

Everything the server prints goes to a log file: `server.logs()` returns it (also after
stop), and a server that fails to start raises ServerError carrying it. The server is
stopped by stop(), on leaving the `with` block, at interpreter exit, and on Linux also when
the test process dies without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ServerError(RuntimeError):
    """The server did not start, or died."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the kernel sends SIGTERM to the server when the test process dies."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _can_die_with_parent() -> bool:
    # The signal follows the thread that started the child: only the main thread lives as
    # long as the test process.
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


class AppServer:
    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        app: str = "backend.asgi:app",
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
        access_log: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        self.env = env or {}
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.workers = workers
        self.access_log = access_log
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_path: Path | None = None
        self._final_logs = ""

    @property
    def url(self) -> str:
        if self.port is None:
            raise ServerError("The server is not started.")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- starting

    def start(self) -> AppServer:
        if self._process is not None:
            raise ServerError("The server is already started.")
        if self.requested_port and not port_is_free(self.host, self.requested_port):
            # Else /health could be answered by whoever holds the port.
            raise ServerError(f"Port {self.requested_port} is already in use.")
        # A port found free can be taken before uvicorn binds it: then try another.
        attempts = 1 if self.requested_port else 3
        for attempt in range(1, attempts + 1):
            self._launch(self.requested_port or free_port(self.host))
            try:
                self._wait_until_ready()
                return self
            except ServerError:
                self.stop()
                if attempt < attempts and "address already in use" in self.logs().lower():
                    continue
                raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _command(self, port: int) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            self.host,
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--log-level",
            "info",
            "--timeout-graceful-shutdown",
            "5",
        ]
        if not self.access_log:
            command.append("--no-access-log")
        return command

    def _launch(self, port: int) -> None:
        self.port = port
        self._final_logs = ""
        handle, name = tempfile.mkstemp(prefix="app-server-", suffix=".log")
        os.close(handle)
        self._log_path = Path(name)
        # Append mode: the child's writes always land at the end, whatever we read meanwhile.
        self._log = self._log_path.open("ab")
        self._process = subprocess.Popen(
            self._command(port),
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if _can_die_with_parent() else None,
        )
        atexit.register(self.stop)

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise ServerError(
                        f"The server exited with code {self._process.returncode} while "
                        f"starting:\n{self.logs()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                time.sleep(0.05)
        raise ServerError(
            f"The server did not answer /health within {self.startup_timeout:.0f} s:\n{self.logs()}"
        )

    # -- logs

    def logs(self) -> str:
        """Everything the server printed so far (still available after stop)."""
        if self._log_path is None:
            return self._final_logs
        try:
            return self._log_path.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return self._final_logs

    # -- stopping

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to shut down (SIGTERM), kill it if it does not. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._log_path is not None:
            self._final_logs = self.logs()
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would: no shutdown, no clean-up of
        its own. Its logs stay readable; start a new AppServer to play the restart."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self.stop()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
