"""Powertools' SQS BatchProcessor, processing a batch's records concurrently.

Powertools calls the record handler once per record, in order; this subclass runs those calls on
a bounded thread pool, so a batch of slow calls takes about as long as its slowest record. Each
record still succeeds or fails on its own (partial batch responses, ReportBatchItemFailures).
The pool lives as long as the processor (one per Lambda instance): a pool per batch started its
threads one after another at the start of every batch, each start waiting for the GIL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class ConcurrentBatchProcessor(BatchProcessor):
    def __init__(self, max_concurrency: int = 10) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=True)
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def process(self) -> list[tuple]:  # type: ignore[type-arg]
        records = list(self.records)
        if len(records) <= 1:
            return super().process()
        # success_handler/failure_handler append to lists: atomic in CPython, order irrelevant.
        return list(self._threads().map(self._process_record, records))

    def close(self) -> None:
        """Stop the pool's threads (a later batch starts a new pool)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _threads(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="record")
            return self._pool
