"""Powertools' SQS BatchProcessor, processing a batch's records concurrently.

Powertools calls the record handler once per record, in order; this subclass runs those calls on
a bounded thread pool, so a batch of slow calls takes about as long as its slowest record. Each
record still succeeds or fails on its own (partial batch responses, ReportBatchItemFailures).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class ConcurrentBatchProcessor(BatchProcessor):
    def __init__(self, max_concurrency: int = 10) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=True)
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency

    def process(self) -> list[tuple]:  # type: ignore[type-arg]
        records = list(self.records)
        if len(records) <= 1:
            return super().process()
        # success_handler/failure_handler append to lists: atomic in CPython, order irrelevant.
        with ThreadPoolExecutor(min(self.max_concurrency, len(records)), thread_name_prefix="record") as pool:
            return list(pool.map(self._process_record, records))
