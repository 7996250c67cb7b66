"""The console over HTTPS with the operator's certificate: pages served over
TLS, the session cookie marked Secure; a half-set or unreadable certificate
is refused with a message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine

from cobrador.ground import access_log
from cobrador.ground.settings import Settings
from console.app import init_app
from console.tls import TLSConfigError, server_context


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


async def test_given_certificate_when_console_runs_then_https_and_secure_session_cookie(
    settings: Settings, engine: Engine, aredis: aioredis.Redis, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    settings = settings.with_overrides(console_tls_cert=cert, console_tls_key=key)
    context = server_context(settings.console_tls_cert, settings.console_tls_key)
    # The production runner: TLS connections pass its per-address gate (http_bounds).
    runner = access_log.runner(init_app(settings, engine, aredis), max_per_address=4)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"https://127.0.0.1:{port}/login", ssl=False) as resp:
                assert resp.status == 200
                cookie = resp.cookies["cobrador_session"]
                assert cookie["secure"]
                assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
            # Metrics are not on the public console port (console_metrics_port).
            async with http.get(f"https://127.0.0.1:{port}/metrics", ssl=False) as resp:
                assert resp.status == 404
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/login"):
                    pass
    finally:
        await runner.cleanup()


async def test_given_plain_http_console_then_no_hsts(
    settings: Settings, engine: Engine, aredis: aioredis.Redis, aiohttp_client
) -> None:
    client = await aiohttp_client(init_app(settings, engine, aredis))
    resp = await client.get("/login")
    assert "Strict-Transport-Security" not in resp.headers


def test_given_half_or_broken_certificate_settings_then_refused(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    assert server_context(None, None) is None
    with pytest.raises(TLSConfigError, match="both"):
        server_context(cert, None)
    with pytest.raises(TLSConfigError, match="cannot load"):
        server_context(cert, tmp_path / "missing.pem")
