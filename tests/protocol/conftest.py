"""Fixtures of the protocol tier: fake Asterisk peers on real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.protocol.ami_fake_peer import FakeAmi


@pytest.fixture
async def peer() -> AsyncIterator[FakeAmi]:
    """A fake AMI server on 127.0.0.1, stopped after the test."""
    fake = FakeAmi()
    await fake.start()
    yield fake
    await fake.stop()
