"""moto's server in a process of its own: `python -m eventrelay_cli.local.moto_process`.

Started by `backends.MotoServer`. moto spends ~15 ms of CPU per SQS message; in the stack's own
process that CPU competed (for the GIL, and for one core) with the HTTP gateway and the event
source pollers. Here it has an interpreter, and a core, to itself.

The protocol, over pipes:

    child → parent   {"port": N}   once it listens on 127.0.0.1:N (a free port the kernel chose)
    parent → child   (end of input) stop serving and exit

The end of input also comes when the parent dies however it dies (its end of the pipe closes), so
the server never outlives the stack; SIGTERM stops it too. SIGINT is ignored: Ctrl-C is for the
stack, which still needs its queues and secrets while it drains.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

HOST = "127.0.0.1"


def _receive_without_counting_the_queue() -> None:
    """moto 5.2 checks each message it hands out against the queue's retention period by building
    every attribute of the queue, three of which scan all its messages: a ReceiveMessage cost
    O(batch x queue length), most of moto's CPU while the local stack's consumers drain a queue.
    The same check, reading the one attribute it needs."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Message, SQSBackend

    def within_retention(self: SQSBackend, queue_name: str, message: Message) -> bool:
        retention_seconds = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
        return bool(retention_seconds + message.sent_timestamp / 1000 > unix_time())  # type: ignore[operator]

    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]


def _count_the_queue_with_one_clock_reading() -> None:
    """moto 5.2 builds every attribute of a queue for each message it accepts (to read one,
    ContentBasedDeduplication), and its three message counts read the clock once per message in
    the queue (a datetime computation each): SendMessage cost O(queue length) clock readings, about
    a second per batch of ten once 500 rows of a dataset page were queued. The same counts,
    reading the clock once per count."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def delayed(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if now < message.delayed_until)

    def not_visible(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for message in self._messages if not now > message.visible_at)

    def visible(self: Queue) -> int:
        now = unix_time_millis()
        return sum(
            1 for message in self._messages if now > message.visible_at and not now < message.delayed_until
        )

    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages = property(visible)  # type: ignore[method-assign,assignment]


def serve() -> int:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _receive_without_counting_the_queue()
    _count_the_queue_with_one_clock_reading()

    # moto logs every request through werkzeug: the stack's terminal stays readable without them.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(
        HOST,
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    serving = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serving.start()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        # serve_forever runs in its own thread: shutting it down from here cannot deadlock.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop_on_signal)
    sys.stdout.write(json.dumps({"port": server.server_port}) + "\n")
    sys.stdout.flush()
    # Block until the parent closes our input (or dies), or SIGTERM shut the server down.
    watcher = threading.Thread(target=_wait_for_end_of_input, args=(server.shutdown,), daemon=True)
    watcher.start()
    serving.join()
    server.server_close()
    return 0


def _wait_for_end_of_input(shutdown: Callable[[], None]) -> None:
    sys.stdin.buffer.read()
    shutdown()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
