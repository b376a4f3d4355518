"""The sandbox's SIP transport and RTP range come from the settings (parallel sandboxes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import SandboxError
from bot.telephony.sandbox import write_sip_config


def _settings(**sandbox: int) -> Settings:
    base = Settings()
    return base.model_copy(update={"sandbox": base.sandbox.model_copy(update=sandbox)})


def test_transport_binds_loopback_on_the_configured_port(tmp_path: Path) -> None:
    assert write_sip_config(tmp_path, _settings(sip_port=5299, rtp_port_start=30000, rtp_port_end=30099))
    transport = (tmp_path / "collbot-pjsip-transport.conf").read_text()
    assert "bind = 127.0.0.1:5299\n" in transport and "type = transport" in transport
    rtp = (tmp_path / "rtp.conf").read_text()
    assert "rtpstart = 30000\n" in rtp and "rtpend = 30099\n" in rtp


def test_empty_rtp_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="rtp_port_end"):
        write_sip_config(tmp_path, _settings(rtp_port_start=30000, rtp_port_end=30000))
    assert not (tmp_path / "rtp.conf").exists()


def test_sandbox_pjsip_conf_includes_the_generated_transport() -> None:
    conf = Path(__file__).parents[2] / "asterisk_conf" / "sandbox" / "pjsip.conf"
    assert '#include "collbot-pjsip-transport.conf"' in conf.read_text()
    modules = (conf.parent / "modules.conf").read_text().splitlines()
    order = [modules.index(f"load => {m}.so") for m in ("res_pjproject", "res_rtp_asterisk", "res_pjsip",
                                                          "chan_pjsip")]
    assert order == sorted(order)


def test_a_new_sip_port_asks_for_a_restart(tmp_path: Path) -> None:
    assert write_sip_config(tmp_path, _settings(sip_port=5299))
    assert not write_sip_config(tmp_path, _settings(sip_port=5299))  # unchanged: a reload is enough
    assert write_sip_config(tmp_path, _settings(sip_port=5300))
