"""The local stack started as a user starts it (`eventrelay local`), one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_stack import RunningStack, start_local_stack, stop_local_stack


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # Its own state folder: a clean stack, whatever a developer's stack in the checkout holds.
    stack = start_local_stack(tmp_path_factory.mktemp("local-stack"))
    try:
        yield stack
    finally:
        # Ctrl-C's signal; a stack that does not stop is killed with its whole process group.
        stop_local_stack(stack, timeout=60)
