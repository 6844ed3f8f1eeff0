"""The dataset runs' CloudWatch metrics: `DatasetRunsFinished`, and `DatasetRunsFailed` for a run
that ended FAILED or PARTIAL_SUCCESS (the stack's alarm on failed runs reads it)."""

from __future__ import annotations

from eventrelay.datasets.models import Run, RunState
from eventrelay.delivery.metrics import count
from eventrelay.observability import logger

RUNS_FINISHED = "DatasetRunsFinished"
RUNS_FAILED = "DatasetRunsFailed"


def run_finished(run: Run) -> None:
    count(RUNS_FINISHED)
    if run.state in (RunState.FAILED, RunState.PARTIAL_SUCCESS):
        count(RUNS_FAILED)
    logger.info(
        "run finished",
        extra={
            "run_id": run.run_id,
            "tenant_id": run.tenant_id,
            "run_state": run.state.value,
            "rows": run.rows,
            "skipped": run.skipped,
            "invalid": run.invalid,
            "delivered": run.delivered,
            "failed": run.failed,
        },
    )
