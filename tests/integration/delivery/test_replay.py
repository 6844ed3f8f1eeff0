"""Replay: one delivery or all matching a filter, dry-run count first; recorded as replays; current config."""

from __future__ import annotations

import pytest

from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.replay import DeliveryFilter, DeliveryNotFound, NotReplayable
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply


class Switchable:
    """A target that fails until told to work."""

    def __init__(self) -> None:
        self.status = 500

    def __call__(self, _request: RecordedRequest) -> Reply:
        return Reply(status=self.status)


def test_replaying_one_failed_delivery_uses_the_current_configuration(
    harness: Harness, tenant_id: str
) -> None:
    answer = Switchable()
    with RecordingServer(answer) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/v1/hook", maxRetries=0)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.publish(envelope)
        harness.pump()
        failed = harness.delivery_of(envelope, "hook")
        assert failed.state is DeliveryState.FAILED
        # Given the target works again and the admin changed the action (new path, one retry allowed)
        answer.status = 200
        harness.actions.update(
            tenant_id,
            {"connector": "target", "name": "hook", "method": "POST", "url": "/v2/hook", "maxRetries": 1},
        )
        # When the delivery is replayed
        reopened = harness.replay.replay(tenant_id, failed.delivery_id)
        assert (reopened.state, reopened.round, reopened.attempt_limit) == (DeliveryState.PENDING, 2, 3)
        harness.pump()
        # Then it is delivered with the current action, as a recorded replay with its own idempotency key
        assert [r.path for r in server.requests] == ["/v1/hook", "/v2/hook"]
        assert server.requests[1].header("Idempotency-Key") == f"eventrelay-{failed.delivery_id}-r2"
    delivery = harness.delivery_of(envelope, "hook")
    assert (delivery.state, delivery.attempts, delivery.replays) == (DeliveryState.SUCCEEDED, 2, 1)
    attempts = harness.attempts_of(envelope, "hook")
    assert [(a.attempt, a.round, a.replay, a.outcome) for a in attempts] == [
        (1, 1, False, AttemptOutcome.RETRYABLE),
        (2, 2, True, AttemptOutcome.SUCCESS),
    ]


def test_a_replay_gets_a_fresh_retry_budget(harness: Harness, tenant_id: str) -> None:
    with RecordingServer(lambda _r: Reply(status=503)) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook", maxRetries=1)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.publish(envelope)
        harness.pump()
        harness.replay.replay(tenant_id, harness.delivery_of(envelope, "hook").delivery_id)
        harness.pump()
        assert len(server.requests) == 4
    attempts = harness.attempts_of(envelope, "hook")
    assert [a.round for a in attempts] == [1, 1, 2, 2]
    # The backoff starts again with the round: 8 s after the first attempt of each round
    assert round(attempts[1].started_at - (attempts[0].finished_at or 0)) == 8
    assert round(attempts[3].started_at - (attempts[2].finished_at or 0)) == 8
    assert harness.delivery_of(envelope, "hook").state is DeliveryState.FAILED


def test_deliveries_on_their_way_are_not_replayed(harness: Harness, tenant_id: str) -> None:
    with RecordingServer(lambda _r: Reply(status=500)) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook", maxRetries=2)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.handle(envelope)  # first attempt failed, a retry is scheduled
    delivery = harness.delivery_of(envelope, "hook")
    assert delivery.state is DeliveryState.RETRYING
    with pytest.raises(NotReplayable, match="it is RETRYING, next attempt at"):
        harness.replay.replay(tenant_id, delivery.delivery_id)
    with pytest.raises(DeliveryNotFound):
        harness.replay.replay("another-tenant", delivery.delivery_id)
    # A retry whose message was lost (long overdue) counts as stalled and may be replayed
    harness.clock.advance(3600)
    assert harness.replay.why_not_replayable(delivery) is None


def test_replaying_by_filter_replays_exactly_what_the_dry_run_counted(
    harness: Harness, tenant_id: str
) -> None:
    # Given FAILED and SUCCEEDED deliveries of two actions, created an hour apart
    def answer(request: RecordedRequest) -> Reply:
        return Reply(status=500 if "fail" in request.path else 200)

    with RecordingServer(answer) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="a", url="/a/{{mode}}", maxRetries=0)
        harness.action(tenant_id, name="b", url="/b/{{mode}}", maxRetries=0)
        harness.rule(tenant_id, name="to-a", action="a", mapping={"mode": "$.mode"})
        harness.rule(
            tenant_id,
            name="to-b",
            action="b",
            mapping={"mode": "$.mode"},
            condition={"path": "$.mode", "op": "eq", "value": "fail"},
        )
        early = [harness.envelope(tenant_id, {"mode": "fail"}) for _ in range(2)]
        harness.publish(*early)
        harness.pump()
        harness.clock.advance(3600)
        cutoff = harness.clock()
        late = [harness.envelope(tenant_id, {"mode": m}) for m in ("fail", "fail", "ok")]
        harness.publish(*late)
        harness.pump()
        requests_before = len(server.requests)
        # When an admin asks how many FAILED deliveries of action "a" there are (dry run), then replays them
        everything = DeliveryFilter(tenant_id, state=DeliveryState.FAILED, action="a")
        recent = DeliveryFilter(tenant_id, state=DeliveryState.FAILED, action="a", since=cutoff)
        dry_run_all = len(harness.replay.candidates(everything))
        dry_run_recent = len(harness.replay.candidates(recent))
        progress: list[tuple[int, int]] = []
        report = harness.replay.replay_matching(
            recent, progress=lambda done, total: progress.append((done, total))
        )
        harness.pump()
        # Then the counts match what was replayed, and only those deliveries were attempted again
        assert (dry_run_all, dry_run_recent) == (4, 2)
        assert (report.matched, len(report.replayed), report.skipped) == (2, 2, [])
        assert progress == [(1, 2), (2, 2)]
        assert sorted(report.replayed) == sorted(harness.delivery_of(e, "to-a").delivery_id for e in late[:2])
        assert [r.path for r in server.requests[requests_before:]] == ["/a/fail", "/a/fail"]
    # And the replays are recorded as such
    for envelope in late[:2]:
        attempts = harness.attempts_of(envelope, "to-a")
        assert [(a.round, a.replay) for a in attempts] == [(1, False), (2, True)]
    assert harness.delivery_of(early[0], "to-a").replays == 0
    assert harness.delivery_of(late[0], "to-b").replays == 0
