"""Many calls at once through one client: connections kept per host, one watchdog for them all.

The action runner makes a batch's calls together, often to one host; what each call costs beyond
its request (a new connection, a thread) is paid by every delivery of every batch.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

from eventrelay.outbound.client import DEFAULT_CONNECTIONS_PER_HOST, OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply

DEADLINE = 0.6


class Together:
    """Answers once `expected` calls wait on it at the same time (gives up after 10 s); remembers
    the threads that served them."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.condition = threading.Condition()
        self.waiting = 0
        self.peak = 0
        self.serving: set[threading.Thread] = set()
        self.threads_at_peak: set[threading.Thread] = set()

    def __call__(self, _request: RecordedRequest) -> Reply:
        with self.condition:
            self.serving.add(threading.current_thread())
            self.waiting += 1
            self.peak = max(self.peak, self.waiting)
            if self.peak == self.expected and not self.threads_at_peak:
                self.threads_at_peak = set(threading.enumerate())
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.peak >= self.expected, timeout=10)
            self.waiting -= 1
        return Reply()


def call_together(client: OutboundClient, url: str, count: int) -> list[threading.Thread]:
    """`count` calls from threads of their own, all started before any is awaited; the threads."""
    outcomes: list[OutcomeKind] = []

    def call() -> None:
        outcomes.append(client.send(OutboundRequest("POST", url, {}, b"{}")).kind)

    callers = [threading.Thread(target=call) for _ in range(count)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert outcomes == [OutcomeKind.SUCCESS] * count
    return callers


def test_a_batch_of_calls_to_one_host_finds_every_connection_again_in_the_next() -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=15)
    calls = DEFAULT_CONNECTIONS_PER_HOST
    try:
        with RecordingServer(Together(calls)) as server:
            # Given as many calls as the runner makes at once, all in flight together
            call_together(client, server.url("/hook"), calls)
            # When the next batch makes as many again
            server.responder = Together(calls)
            call_together(client, server.url("/hook"), calls)
            # Then it reused every connection of the first: none was dropped and opened again
            assert server.settled_connections() == calls
    finally:
        client.close()


def test_calls_in_flight_together_start_no_thread_of_their_own() -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=15)
    try:
        with RecordingServer() as server:
            assert client.send(OutboundRequest("GET", server.url("/warm-up"))).ok
            before = set(threading.enumerate())
            together = Together(8)
            server.responder = together
            callers = call_together(client, server.url("/hook"), 8)
        # While all eight were in flight, the only new threads were the callers and the server's
        assert together.threads_at_peak
        assert together.threads_at_peak - before - set(callers) - together.serving == set()
    finally:
        client.close()


class Trickle:
    """Header lines one every 50 ms, forever: only a deadline ends such a call (each line restarts
    the read timeout). Counts the lines sent to the path /first."""

    def __init__(self) -> None:
        self.first_lines = 0
        self.condition = threading.Condition()

    def __call__(self, request: RecordedRequest) -> Reply:
        def trickle(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while not stop.is_set():
                handler.wfile.write(b"X-Slow: 1\r\n")
                handler.wfile.flush()
                with self.condition:
                    self.first_lines += request.path == "/first"
                    self.condition.notify_all()
                stop.wait(0.05)  # a slow server: the pace of the trickle (returns early when the test ends)

        return Reply(raw=trickle)

    def wait_for_first_lines(self, count: int) -> None:
        with self.condition:
            assert self.condition.wait_for(lambda: self.first_lines >= count, timeout=10)


def test_each_call_is_cut_at_its_own_deadline() -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), read_timeout=10, deadline=DEADLINE)
    trickle = Trickle()
    ended: dict[str, tuple[OutcomeKind, str | None, int | None]] = {}

    def call(name: str) -> None:
        outcome = client.send(OutboundRequest("GET", server.url(f"/{name}")))
        ended[name] = (outcome.kind, outcome.error, outcome.duration_ms)

    try:
        with RecordingServer(trickle) as server:
            # Given a call to a server that trickles, half its deadline in (six lines, 50 ms apart)
            first = threading.Thread(target=call, args=("first",))
            first.start()
            trickle.wait_for_first_lines(6)
            # When a second call starts then
            second = threading.Thread(target=call, args=("second",))
            second.start()
            first.join()
            second.join()
    finally:
        client.close()
    # Then each ran until its own deadline: the first one's did not cut the second short
    for name in ("first", "second"):
        kind, error, duration_ms = ended[name]
        assert (kind, error) == (OutcomeKind.RETRYABLE, "deadline exceeded")
        assert duration_ms is not None
        assert duration_ms >= int(DEADLINE * 1000) - 50


def test_closing_the_client_ends_its_watchdog_thread() -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=15)
    with RecordingServer() as server:
        before = set(threading.enumerate())
        assert client.send(OutboundRequest("GET", server.url("/"))).ok
        started = {t for t in set(threading.enumerate()) - before if "process_request" not in t.name}
    assert len(started) == 1
    client.close()
    [watchdog] = started
    watchdog.join(timeout=5)
    assert not watchdog.is_alive()
