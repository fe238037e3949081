"""Fixtures the integration tests share (the emulator's are in tests/conftest.py)."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.simulator import Simulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    """The platform simulator on a free port, one per test module (tests/conftest.py set the local secrets)."""
    with Simulator(0, env=dict(os.environ)) as running:
        yield running
