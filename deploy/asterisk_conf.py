"""Renders asterisk-conf/ for the docker-compose Asterisk container.

asterisk-conf/ is written for loopback tests. In docker-compose the dialer
shares Asterisk's network namespace (AMI and FastAGI stay on 127.0.0.1 and
never reach the network), so only three things change at start-up:
the AMI secret becomes the deployment's, SIP listens on the container's
address, and the outbound route and RTP ports come from the environment.
Standard library only: it runs with the Asterisk image's python3.

    python3 asterisk_conf.py SOURCE_DIR TARGET_DIR
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

ROUTES = ("trunk", "sim")
# Written at run time by others, mounted into the target: never wiped.
KEPT = frozenset({"cobrador-phones"})


class ConfigRenderError(Exception):
    """asterisk-conf/ no longer looks the way this renderer expects."""


def render(source: Path, target: Path, environ: Mapping[str, str]) -> None:
    secret = environ.get("COBRADOR_AMI_SECRET", "")
    if not secret or any(c in secret for c in "\r\n;"):
        raise ConfigRenderError("COBRADOR_AMI_SECRET must be set, on one line, without ';'")
    route = environ.get("COBRADOR_OUTBOUND_ROUTE", "trunk")
    if route not in ROUTES:
        raise ConfigRenderError(f"COBRADOR_OUTBOUND_ROUTE must be one of {ROUTES}, not {route!r}")
    rtp_start, rtp_end = _rtp_range(environ)

    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.name in KEPT:
            continue
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    shutil.copytree(source, target, dirs_exist_ok=True)

    _replace_in_section(target / "manager.conf", "cobrador", r"secret\s*=.*", f"secret = {secret}")
    _replace_in_section(
        target / "pjsip.conf", "transport-udp", r"bind\s*=.*", "bind = 0.0.0.0:5060"
    )
    globals_file = target / "cobrador-globals.conf"
    existing = globals_file.read_text(encoding="utf-8") if globals_file.exists() else ""
    globals_file.write_text(
        existing + "; docker-compose (deploy/asterisk_conf.py)\n"
        f"COBRADOR_OUTBOUND_ROUTE={route}\n"
        "COBRADOR_AGI_HOST=127.0.0.1\n",
        encoding="utf-8",
    )
    _wss(target, environ)
    rtp = target / "rtp.conf"
    if not rtp.exists():
        rtp.write_text(
            "; docker-compose (deploy/asterisk_conf.py): the published RTP range\n"
            f"[general]\nrtpstart = {rtp_start}\nrtpend = {rtp_end}\n",
            encoding="utf-8",
        )


WSS_PORT = 8089


def _wss(target: Path, environ: Mapping[str, str]) -> None:
    """The browser phones' SIP WebSocket over TLS with the operator's certificate
    (COBRADOR_WSS_CERT / COBRADOR_WSS_KEY: PEM files inside the container): Asterisk's
    HTTP server serves wss on 0.0.0.0:8089 (plain ws stays on loopback)."""
    cert = environ.get("COBRADOR_WSS_CERT", "")
    key = environ.get("COBRADOR_WSS_KEY", "")
    if not cert and not key:
        return
    if not cert or not key:
        raise ConfigRenderError("set both COBRADOR_WSS_CERT and COBRADOR_WSS_KEY, or neither")
    for name, path in (("COBRADOR_WSS_CERT", cert), ("COBRADOR_WSS_KEY", key)):
        if any(c in path for c in "\r\n;") or not Path(path).is_file():
            raise ConfigRenderError(f"{name}: {path!r} is not a readable file in the container")
    tls = (
        "; docker-compose (deploy/asterisk_conf.py): wss for the browser phones\n"
        f"tlsenable = yes\ntlsbindaddr = 0.0.0.0:{WSS_PORT}\n"
        f"tlscertfile = {cert}\ntlsprivatekey = {key}\n"
    )
    http = target / "http.conf"
    if http.exists():
        text = http.read_text(encoding="utf-8")
        if "[general]" not in text:
            raise ConfigRenderError("http.conf: no [general] section")
        http.write_text(text.replace("[general]\n", "[general]\n" + tls, 1), encoding="utf-8")
    else:
        http.write_text(
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 8088\n" + tls,
            encoding="utf-8",
        )
    pjsip = target / "pjsip.conf"
    text = pjsip.read_text(encoding="utf-8")
    if "protocol = wss" not in text:
        marker = "#tryinclude cobrador-pjsip-local.conf"
        block = "[transport-wss]\ntype = transport\nprotocol = wss\nbind = 0.0.0.0\n\n"
        if marker not in text:
            raise ConfigRenderError("pjsip.conf: no site include to put the wss transport before")
        pjsip.write_text(text.replace(marker, block + marker, 1), encoding="utf-8")


def _rtp_range(environ: Mapping[str, str]) -> tuple[int, int]:
    try:
        start = int(environ.get("COBRADOR_RTP_START", "10000"))
        end = int(environ.get("COBRADOR_RTP_END", "10199"))
    except ValueError as exc:
        raise ConfigRenderError(f"RTP ports must be integers: {exc}") from exc
    if not 1024 <= start < end <= 65535:
        raise ConfigRenderError(f"bad RTP range {start}-{end}")
    return start, end


def _replace_in_section(path: Path, section: str, pattern: str, replacement: str) -> None:
    """Replace the first line matching `pattern` inside `[section]`, loudly
    failing when the section or the line is gone (the config changed shape)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = re.compile(r"^\[([^\]]+)\]")
    line_re = re.compile(rf"^\s*{pattern}$")
    current = None
    for index, line in enumerate(lines):
        match = header.match(line)
        if match:
            current = match.group(1)
            continue
        if current == section and line_re.match(line.rstrip("\r\n")):
            lines[index] = replacement + "\n"
            path.write_text("".join(lines), encoding="utf-8")
            return
    raise ConfigRenderError(f"{path.name}: no line matching {pattern!r} in [{section}]")


def main(argv: list[str]) -> int:
    import os

    if len(argv) != 2:
        print("usage: asterisk_conf.py SOURCE_DIR TARGET_DIR", file=sys.stderr)
        return 2
    try:
        render(Path(argv[0]), Path(argv[1]), os.environ)
    except ConfigRenderError as exc:
        print(f"cobrador asterisk config: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
