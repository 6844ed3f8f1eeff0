"""Child processes that never outlive the local stack, and the port check made before anything starts."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import signal
import socket
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl: Callable[..., int] = libc.prctl
    return prctl


# Looked up once in the parent: the function run between fork and exec must not import or allocate much.
_prctl = _load_prctl()


def die_with_parent() -> None:
    """A `preexec_fn`: the kernel SIGKILLs this child when the THREAD that started it ends (Linux).

    Start the child from a thread that lives as long as the stack (its main thread, or the
    DynamoDB watchdog, which ends only after DynamoDB Local is stopped): the child then dies with
    the stack however the stack dies, SIGKILL included. Elsewhere this does nothing.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class PortInUse(Exception):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"{host}:{port} is in use")
        self.host = host
        self.port = port


def check_port_free(host: str, port: int) -> None:
    """PortInUse when something listens on host:port already (checked the way the HTTP server binds)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The HTTP server binds with SO_REUSEADDR: a port left in TIME_WAIT is free for it too.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from None
            raise
