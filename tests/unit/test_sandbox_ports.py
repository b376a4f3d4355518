"""The sandbox refuses to start on an AMI port another process already listens on."""

from __future__ import annotations

import socket

import pytest

from bot.config import Settings
from bot.errors import SandboxError
from bot.telephony.sandbox import check_ami_port_free


def _settings(port: int) -> Settings:
    base = Settings()
    return base.model_copy(update={"ami": base.ami.model_copy(update={"port": port})})


def test_a_port_someone_listens_on_is_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SandboxError, match=rf"127\.0\.0\.1:{port} \(ami\.port\) is already in use"):
            check_ami_port_free(_settings(port))


def test_a_free_port_passes() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    check_ami_port_free(_settings(port))  # closed again: nobody listens
