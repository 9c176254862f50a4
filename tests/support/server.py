"""Start the real `mailwright serve` process on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def mailwright(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "mailwright", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


class ServerProcess:
    """One `mailwright serve` process that a test can kill with SIGKILL and start again on its port."""

    def __init__(self, env: dict[str, str], *, start_timeout: float = 120.0) -> None:
        self.env = {**os.environ, **env}
        # Generous: importing the whole app takes seconds, and far longer on a machine busy with other suites.
        self.start_timeout = start_timeout
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailwright", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server did not start (exit {self.proc.poll()})")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """A `mailwright serve` process; yields its base URL and kills it afterwards."""
    server = ServerProcess(env)
    server.start()
    try:
        yield server.base
    finally:
        server.kill()
