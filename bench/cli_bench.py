"""`make bench`: the CLI's start-up, `eventrelay --help` in a fresh process, next to `python -c pass`.

The two are run alternately in one loop (so that other work on the machine weighs on both alike)
and each figure is the median wall time of its runs; `eventrelay tenant --help` is measured the
same way, since it is the first help that loads a command module.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPEATS = 15
EVENTRELAY = Path(sys.executable).parent / "eventrelay"
BASELINE = (sys.executable, "-c", "pass")
ROOT_HELP = (str(EVENTRELAY), "--help")
GROUP_HELP = (str(EVENTRELAY), "tenant", "--help")


def _wall_time(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - start


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    samples: dict[tuple[str, ...], list[float]] = {BASELINE: [], ROOT_HELP: [], GROUP_HELP: []}
    for argv in samples:  # warm the file cache once; these runs are not counted
        _wall_time(argv)
    for _ in range(REPEATS):
        for argv, times in samples.items():
            times.append(_wall_time(argv))
    baseline, root, group = (statistics.median(times) for times in samples.values())
    print(f"eventrelay CLI start-up (fresh process, median of {REPEATS}, alternating)")
    print(f"  python -c pass              {_ms(baseline)}")
    print(f"  eventrelay --help           {_ms(root)}")
    print(f"  eventrelay tenant --help    {_ms(group)}")
    print(f"  ratio --help / python       {root / baseline:.2f}x")
    print(f"  ratio tenant --help / python {group / baseline:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
