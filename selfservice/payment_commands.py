"""CLI: `cobrador payment-link REF AMOUNT`: a payment link for an account, to send the
debtor by hand (docs/payments.md); the portal and the assistant make theirs in-process."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from cobrador.ground.settings import Settings


def register(subparsers: Any) -> None:
    link = subparsers.add_parser(
        "payment-link",
        help="a Mercado Pago payment link for an account and amount (at most its balance)",
    )
    link.add_argument("account", metavar="REF", help="the account's external reference")
    link.add_argument("amount", help="e.g. 1500.00, in the account's currency")
    link.add_argument(
        "--hours", type=int, help="how long it can be paid (default: payment_link_hours)"
    )
    link.add_argument("--by", default="operator", help="who makes it (for the audit log)")
    link.set_defaults(func=_payment_link)


def _payment_link(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from cobrador.ground.errors import UserError
    from store.db import open_engine
    from store.models import Account

    if settings.payment_gateway != "mercadopago":
        raise UserError(
            "payment_gateway is not mercadopago: set it and mercadopago_access_token, "
            "mercadopago_webhook_secret (docs/payments.md); the simulated gateway runs "
            "inside the demo and the console only"
        )
    if not settings.mercadopago_access_token:
        raise UserError("mercadopago_access_token is not set (docs/payments.md)")
    engine = open_engine(settings)
    try:
        with Session(engine) as s:
            account_id = s.scalar(select(Account.id).where(Account.external_ref == args.account))
        if account_id is None:
            raise UserError(f"no account with reference {args.account!r}")
        link = asyncio.run(_make(settings, engine, account_id, args))
    finally:
        engine.dispose()
    print(f"{link.url}\n{link.amount} {link.currency}, payable until "
          f"{link.expires_at.isoformat(timespec='minutes')}")  # fmt: skip
    return 0


async def _make(settings: Settings, engine: Any, account_id: int, args: argparse.Namespace) -> Any:
    from cobrador.ground.errors import UserError
    from gateways import mercadopago as mp
    from selfservice.payment_links import (
        MercadoPagoProvider,
        PaymentLinkError,
        ProviderUnavailable,
        create_link,
    )
    from store.audit import append

    client = mp.MercadoPagoClient(mp.MercadoPagoSettings(
        settings.mercadopago_access_token, settings.mercadopago_webhook_secret,
        api_base=settings.mercadopago_api_base))  # fmt: skip
    try:
        return await create_link(engine, MercadoPagoProvider(client), account_id, args.amount,
                                 actor=f"cli:{args.by}"[:80], now=datetime.now(UTC),
                                 hours=args.hours or settings.payment_link_hours, audit=append)  # fmt: skip
    except PaymentLinkError as exc:
        raise UserError(str(exc)) from exc
    except ProviderUnavailable as exc:
        raise UserError(f"no link made; try again later: {exc}") from exc
    finally:
        await client.close()
