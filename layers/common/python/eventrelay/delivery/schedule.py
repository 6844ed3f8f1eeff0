"""When a failed delivery is tried again: capped exponential backoff with jitter, honouring Retry-After.

The n-th retry of a round (n = 1 for the attempt after the first) waits

    backoff(n) = min(max_backoff, base * multiplier ** (n - 1))
    delay(n)   = backoff(n) * (1 - jitter * U[0, 1))           # "equal jitter" with jitter = 0.5
    delay(n)   = max(delay(n), min(Retry-After, retry_after_cap))   when the target sent Retry-After

Defaults: base 10 s, multiplier 2, max backoff 15 min, jitter 0.5, Retry-After capped at 1 h. So
the default 3 retries come after about 5-10 s, 10-20 s and 20-40 s; 5 retries end with 40-80 s
and 80-160 s. The runner never sleeps: it puts a message back on the queue with `DelaySeconds`
(at most 900, SQS's limit); a message that arrives before the delivery is due is sent again with
the remaining delay, so longer waits (a capped Retry-After of an hour) work too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SQS_DELAY_SECONDS = 900


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 10.0
    multiplier: float = 2.0
    max_backoff_seconds: float = 900.0
    jitter: float = 0.5
    retry_after_cap_seconds: float = 3600.0
    # U[0, 1); injectable so tests can pin the jitter.
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.multiplier < 1 or self.max_backoff_seconds < 0:
            raise ValueError("base and max backoff must be >= 0 and the multiplier >= 1")
        if not 0 <= self.jitter <= 1 or self.retry_after_cap_seconds < 0:
            raise ValueError("jitter must be within 0..1 and the Retry-After cap >= 0")

    def backoff(self, retry_number: int) -> float:
        """The un-jittered wait before the `retry_number`-th retry (1-based)."""
        exponent = max(0, retry_number - 1)
        # Stop multiplying once the cap is reached (no float overflow for large exponents).
        wait = self.base_seconds
        for _ in range(exponent):
            wait *= self.multiplier
            if wait >= self.max_backoff_seconds:
                return self.max_backoff_seconds
        return min(wait, self.max_backoff_seconds)

    def delay(self, retry_number: int, retry_after_seconds: float | None = None) -> float:
        """Seconds to wait before the `retry_number`-th retry."""
        wait = self.backoff(retry_number) * (1 - self.jitter * self.random())
        if retry_after_seconds is not None and math.isfinite(retry_after_seconds):
            wait = max(wait, min(max(0.0, retry_after_seconds), self.retry_after_cap_seconds))
        return wait


def sqs_delay_seconds(wait: float) -> int:
    """`DelaySeconds` for a wait: whole seconds rounded up, at most SQS's 900."""
    if wait <= 0 or not math.isfinite(wait):
        return 0 if wait <= 0 else MAX_SQS_DELAY_SECONDS
    return min(MAX_SQS_DELAY_SECONDS, math.ceil(wait))
