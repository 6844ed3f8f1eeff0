"""`make bench`: the CLI's start-up, `eventrelay --help` in a fresh process, next to `python -c pass`.

The two are run alternately in one loop (so that other work on the machine weighs on both alike)
and each figure is the median wall time of its runs; `eventrelay tenant --help` is measured the
same way, since it is the first help that loads a command module. Printed as one table
(bench/report.py) and written to the `cli` section of bench/results.json.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.report import BenchReport

REPEATS = 15
# The target (issue 12): `eventrelay --help` in a fresh process within half a second.
HELP_SECONDS_TARGET = 0.5
EVENTRELAY = Path(sys.executable).parent / "eventrelay"
BASELINE = (sys.executable, "-c", "pass")
ROOT_HELP = (str(EVENTRELAY), "--help")
GROUP_HELP = (str(EVENTRELAY), "tenant", "--help")


def _wall_time(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    samples: dict[tuple[str, ...], list[float]] = {BASELINE: [], ROOT_HELP: [], GROUP_HELP: []}
    for argv in samples:  # warm the file cache once; these runs are not counted
        _wall_time(argv)
    for _ in range(REPEATS):
        for argv, times in samples.items():
            times.append(_wall_time(argv))
    baseline, root, group = (statistics.median(times) for times in samples.values())
    report = BenchReport("cli", f"eventrelay CLI start-up (fresh process, median of {REPEATS}, alternating)")
    report.details.update(repeats=REPEATS)
    report.add("python -c pass", baseline * 1000, "ms", samples=[t * 1000 for t in samples[BASELINE]])
    report.add("eventrelay --help", root * 1000, "ms", samples=[t * 1000 for t in samples[ROOT_HELP]])
    report.add(
        "eventrelay tenant --help", group * 1000, "ms", samples=[t * 1000 for t in samples[GROUP_HELP]]
    )
    # The target is wall time; the ratio to a bare interpreter says how much of it is the CLI's own.
    report.ratio("eventrelay --help / 0.5 s", root / HELP_SECONDS_TARGET, at_most=1.0)
    report.ratio("eventrelay --help / python -c pass", root / baseline)
    report.ratio("eventrelay tenant --help / python -c pass", group / baseline)
    report.print_table()
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
