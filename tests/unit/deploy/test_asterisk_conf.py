"""The docker-compose renderer of asterisk-conf/: the deployment's AMI
secret, SIP on the container's address, route and RTP range from the
environment; and a loud failure when asterisk-conf/ changes shape."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy.asterisk_conf import ConfigRenderError, render

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-Value-from-dotenv-0123456789"


def _section(text: str, name: str) -> str:
    return text.split(f"[{name}]", 1)[1].split("\n[", 1)[0]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    copy = tmp_path / "asterisk-conf"
    shutil.copytree(ROOT / "asterisk-conf", copy)
    return copy


def test_given_the_shipped_config_when_rendered_then_the_deployment_values_are_in(
    source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "etc"
    (target / "stale").mkdir(parents=True)

    render(source, target, {"COBRADOR_AMI_SECRET": SECRET, "COBRADOR_OUTBOUND_ROUTE": "sim"})

    manager = (target / "manager.conf").read_text()
    assert f"secret = {SECRET}" in _section(manager, "cobrador")
    assert "cobrador-dev-secret" not in _section(manager, "cobrador")
    assert "rtpstart = 10000" in (target / "rtp.conf").read_text()
    assert "bind = 0.0.0.0:5060" in _section((target / "pjsip.conf").read_text(), "transport-udp")
    assert "COBRADOR_OUTBOUND_ROUTE=sim" in (target / "cobrador-globals.conf").read_text()
    assert not (target / "stale").exists()
    # The source is never touched.
    assert (source / "manager.conf").read_text() == (
        ROOT / "asterisk-conf/manager.conf"
    ).read_text()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "COBRADOR_AMI_SECRET"),
        ({"COBRADOR_AMI_SECRET": "a;b"}, "without ';'"),
        ({"COBRADOR_AMI_SECRET": SECRET, "COBRADOR_OUTBOUND_ROUTE": "pstn"}, "OUTBOUND_ROUTE"),
        ({"COBRADOR_AMI_SECRET": SECRET, "COBRADOR_RTP_START": "x"}, "integers"),
        (
            {
                "COBRADOR_AMI_SECRET": SECRET,
                "COBRADOR_RTP_START": "20000",
                "COBRADOR_RTP_END": "100",
            },
            "bad RTP",
        ),
    ],
)
def test_given_bad_settings_when_rendered_then_it_refuses(
    source: Path, tmp_path: Path, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigRenderError, match=expected):
        render(source, tmp_path / "etc", environ)


def test_given_a_manager_conf_without_the_cobrador_user_when_rendered_then_it_fails_loudly(
    source: Path, tmp_path: Path
) -> None:
    (source / "manager.conf").write_text("[general]\nenabled = yes\n")

    with pytest.raises(ConfigRenderError, match=r"\[cobrador\]"):
        render(source, tmp_path / "etc", {"COBRADOR_AMI_SECRET": SECRET})


def test_given_the_operators_certificate_when_rendered_then_asterisk_serves_wss_with_it(
    source: Path, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    target = tmp_path / "etc"

    render(source, target, {"COBRADOR_AMI_SECRET": SECRET, "COBRADOR_WSS_CERT": str(cert),
                            "COBRADOR_WSS_KEY": str(key)})  # fmt: skip

    http = _section((target / "http.conf").read_text(), "general")
    assert "tlsenable = yes" in http and "tlsbindaddr = 0.0.0.0:8089" in http
    assert f"tlscertfile = {cert}" in http and f"tlsprivatekey = {key}" in http
    assert "protocol = wss" in _section((target / "pjsip.conf").read_text(), "transport-wss")


@pytest.mark.parametrize("which", ["only_cert", "missing_file"])
def test_given_a_bad_certificate_setting_when_rendered_then_it_refuses(
    source: Path, tmp_path: Path, which: str
) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    environ = {"COBRADOR_AMI_SECRET": SECRET, "COBRADOR_WSS_CERT": str(cert)}
    if which == "missing_file":
        environ["COBRADOR_WSS_KEY"] = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigRenderError, match="COBRADOR_WSS"):
        render(source, tmp_path / "etc", environ)


def test_given_the_phones_volume_in_the_target_when_rendered_then_it_is_kept(
    source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "etc"
    phones = target / "cobrador-phones"
    phones.mkdir(parents=True)
    (phones / "agents.conf").write_text("[agent-7](agent-webrtc-endpoint)\n")

    render(source, target, {"COBRADOR_AMI_SECRET": SECRET})

    assert (phones / "agents.conf").read_text().startswith("[agent-7]")
