"""`cobrador payment-link REF AMOUNT` as an operator runs it, against the local stand-in
of Mercado Pago (run on a loop of its own: the command runs its own)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from cobrador.cli import main
from gateways.mercadopago_local import LocalMercadoPago
from store.models import PaymentLink

EXAMPLES = Path(__file__).parents[3] / "examples"
TOKEN = "APP_USR-cli"


@pytest.fixture
def mercadopago() -> Iterator[LocalMercadoPago]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    local = LocalMercadoPago(access_token=TOKEN, webhook_secret="s")
    asyncio.run_coroutine_threadsafe(local.start(), loop).result(10)
    yield local
    asyncio.run_coroutine_threadsafe(local.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path,
        mercadopago: LocalMercadoPago) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COBRADOR_PAYMENT_GATEWAY", "mercadopago")
    monkeypatch.setenv("COBRADOR_MERCADOPAGO_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("COBRADOR_MERCADOPAGO_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("COBRADOR_MERCADOPAGO_API_BASE", mercadopago.base_url)
    assert main(["import", "accounts", str(EXAMPLES / "accounts.csv")]) == 0


def test_given_an_account_and_amount_then_the_link_is_printed_and_kept(
    env: None, mercadopago: LocalMercadoPago, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["payment-link", "PE-0001", "100.50", "--hours", "24", "--by", "lucia"]) == 0
    url, detail = capsys.readouterr().out.splitlines()
    assert url.startswith(mercadopago.base_url + "/checkout/v1/redirect?pref_id=")
    assert detail.startswith("100.50 PEN, payable until ")
    [pref] = mercadopago.preferences.values()
    assert pref["items"][0]["unit_price"] == 100.5 and pref["items"][0]["currency_id"] == "PEN"
    engine = create_engine(database_url)
    with Session(engine) as s:
        [link] = s.scalars(select(PaymentLink)).all()
    engine.dispose()
    assert (link.status, link.created_by, link.url) == ("open", "cli:lucia", url)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["payment-link", "NOPE", "10"], "no account with reference 'NOPE'"),
        (["payment-link", "PE-0001", "0"], "above zero"),
        (["payment-link", "PE-0001", "diez"], "not a number"),
        (["payment-link", "PE-0001", "999999"], "above the balance"),
        (["payment-link", "PE-0001", "10", "--hours", "9999"], "between 1 and"),
    ],
)
def test_given_bad_input_then_exit_2_with_the_reason_and_no_link(
    env: None, mercadopago: LocalMercadoPago, capsys: pytest.CaptureFixture[str],
    argv: list[str], message: str,
) -> None:  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert mercadopago.preferences == {}


def test_given_a_wrong_token_then_no_link_and_the_reason(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COBRADOR_MERCADOPAGO_ACCESS_TOKEN", "otro")
    assert main(["payment-link", "PE-0001", "10"]) == 2
    assert "HTTP 401" in capsys.readouterr().err


def test_given_no_gateway_configured_then_it_says_what_to_set(
    env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COBRADOR_PAYMENT_GATEWAY", "")
    assert main(["payment-link", "PE-0001", "10"]) == 2
    assert "payment_gateway is not mercadopago" in capsys.readouterr().err
