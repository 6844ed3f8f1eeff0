"""bench/report.py: the one table and the one results file every `make bench` bench writes."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import BenchReport


def _report(bench: str, ratio: float) -> BenchReport:
    report = BenchReport(bench, f"{bench} figures")
    report.add("calls over HTTP", 22.45, "/s", samples=[20.0, 22.45, 25.0])
    report.ratio("HTTP / raw", ratio, at_least=0.8, note="issue 12")
    return report


def test_the_table_shows_each_figure_its_target_and_whether_it_is_met() -> None:
    lines = _report("local_stack", 0.75).table().splitlines()
    assert lines[0] == "local_stack figures"
    assert lines[1].split() == ["figure", "value", "target", "met", "note"]
    assert "22.45 /s" in lines[3]
    ratio_row = lines[4]
    assert "0.75x" in ratio_row
    assert ">= 0.8" in ratio_row
    assert "NO" in ratio_row


def test_each_bench_writes_its_own_section_of_one_file(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    _report("local_stack", 0.75).write(results)
    _report("publish", 0.9).write(results)
    # A bench run again replaces only its own section
    _report("local_stack", 0.85).write(results)
    document = json.loads(results.read_text())
    assert set(document) == {"local_stack", "publish"}
    [_, local_ratio] = document["local_stack"]["figures"]
    assert local_ratio == {
        "name": "HTTP / raw",
        "value": 0.85,
        "unit": "x",
        "note": "issue 12",
        "target": ">= 0.8",
        "met": True,
    }
    assert document["local_stack"]["all_targets_met"] is True
    assert document["publish"]["figures"][0]["samples"] == [20.0, 22.45, 25.0]
    assert document["publish"]["machine"]["cpus"] >= 1
    assert list(tmp_path.iterdir()) == [results]  # no temporary file left behind
