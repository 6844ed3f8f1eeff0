"""What every `make bench` bench ends with: one table on stdout and its figures in one JSON file.

A bench builds a `BenchReport`, adds its figures (`add`) and its ratios against a target
(`ratio`), then calls `report.print_table()` and `report.write()`. Every bench writes its own
section of the same file (`RESULTS_FILE`, bench/results.json), keyed by the bench's name, so one
`make bench` leaves every bench's latest figures side by side; a bench run alone replaces only its
own section. The file is git-ignored: its figures belong to one run on one machine (the README
quotes the ones worth keeping).

    report = BenchReport("local_stack", "local stack throughput, 8 threads, alternating rounds")
    report.add("publishes/s over HTTP", http_rate, "/s", samples=http_rates)
    report.ratio("HTTP / raw calls", http_rate / raw_rate, at_least=0.8)
    report.print_table()
    report.write()
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_FILE = Path(__file__).resolve().parent / "results.json"


@dataclass(frozen=True)
class Figure:
    """One measured value; a ratio carries its target (`at_most` and/or `at_least`)."""

    name: str
    value: float
    unit: str
    note: str = ""
    at_most: float | None = None
    at_least: float | None = None
    samples: tuple[float, ...] = ()

    @property
    def target(self) -> str:
        bounds = []
        if self.at_least is not None:
            bounds.append(f">= {self.at_least:g}")
        if self.at_most is not None:
            bounds.append(f"<= {self.at_most:g}")
        return ", ".join(bounds)

    @property
    def met(self) -> bool | None:
        """None when the figure has no target."""
        if self.at_most is None and self.at_least is None:
            return None
        return (self.at_most is None or self.value <= self.at_most) and (
            self.at_least is None or self.value >= self.at_least
        )

    def shown(self) -> str:
        magnitude = abs(self.value)
        digits = 2 if magnitude < 100 else 1 if magnitude < 1000 else 0
        return f"{self.value:.{digits}f}{self.unit if self.unit in ('x', '%') else ' ' + self.unit}".rstrip()

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "value": self.value, "unit": self.unit}
        if self.note:
            document["note"] = self.note
        if self.met is not None:
            document.update(target=self.target, met=self.met)
        if self.samples:
            document["samples"] = list(self.samples)
        return document


@dataclass
class BenchReport:
    """The figures of one bench run, in the order they were added."""

    bench: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    # Free-form facts about the run (rounds, threads, backends): written to the JSON, not the table.
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        note: str = "",
        samples: list[float] | tuple[float, ...] = (),
    ) -> Figure:
        figure = Figure(name, float(value), unit, note, samples=tuple(float(s) for s in samples))
        self.figures.append(figure)
        return figure

    def ratio(
        self,
        name: str,
        value: float,
        *,
        at_most: float | None = None,
        at_least: float | None = None,
        note: str = "",
        samples: list[float] | tuple[float, ...] = (),
    ) -> Figure:
        """A ratio of two sides measured in the same run (unit "x"), with its target."""
        figure = Figure(
            name,
            float(value),
            "x",
            note,
            at_most=at_most,
            at_least=at_least,
            samples=tuple(float(s) for s in samples),
        )
        self.figures.append(figure)
        return figure

    @property
    def all_met(self) -> bool:
        return all(figure.met is not False for figure in self.figures)

    def table(self) -> str:
        rows = [("figure", "value", "target", "met", "note")]
        for figure in self.figures:
            met = {None: "", True: "yes", False: "NO"}[figure.met]
            rows.append((figure.name, figure.shown(), figure.target, met, figure.note))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = [self.title]
        for index, row in enumerate(rows):
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append(("  " + "  ".join(cells)).rstrip())
            if index == 0:
                lines.append("  " + "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def print_table(self) -> None:
        print(self.table(), flush=True)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": _machine(),
            "details": self.details,
            "figures": [figure.as_json() for figure in self.figures],
            "all_targets_met": self.all_met,
        }

    def write(self, path: Path = RESULTS_FILE) -> Path:
        """Put this bench's section into `path` (the other benches' sections are kept)."""
        document: dict[str, Any] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                document = loaded
        document[self.bench] = self.as_json()
        # Written whole then renamed: an interrupted run never leaves half a file for the next bench.
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as temporary:
            json.dump(document, temporary, indent=2, sort_keys=True)
            temporary.write("\n")
        os.replace(temporary.name, path)
        return path


def _machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        # The benches share the machine: a high load explains a noisy figure.
        "load_average_1m": round(load[0], 2),
    }
