"""Where the repository's files are, for tests that read them (template, events, functions)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS_DIR = REPO_ROOT / "events"
