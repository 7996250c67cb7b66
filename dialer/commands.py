"""CLI: `cobrador dialer run` and `cobrador campaign create|start|stop|show|skill-group|caller-id|assign`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tomllib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cobrador.ground.settings import Settings
from dialer.messages import CampaignChange, Message, StopAccount

DIAL_MODES = ("preview", "progressive", "predictive")
# Checks of a campaign rules file's other tables, registered by the packages that read
# them (outreach: [strategy], [messages]); each returns its problems (empty: none).
RULES_CHECKS: list[Callable[[dict[str, Any]], list[str]]] = []


def register(subparsers: Any) -> None:
    from compliance.third_party_commands import MARKED_HOOKS
    from store.commands import PAID_HOOKS

    if stop_paid_accounts not in PAID_HOOKS:
        PAID_HOOKS.append(stop_paid_accounts)  # `cobrador import payments` tells the loops
    if stop_third_party_account not in MARKED_HOOKS:
        MARKED_HOOKS.append(stop_third_party_account)  # `cobrador third-party set` too
    dialer = subparsers.add_parser("dialer", help="the dialer process")
    dsub = dialer.add_subparsers(dest="dialer_command", metavar="ACTION", required=True)
    run = dsub.add_parser("run", help="dial the running campaigns (Ctrl-C stops cleanly)")
    run.add_argument(
        "--campaign", action="append", default=[], help="only this campaign (repeatable)"
    )
    run.set_defaults(func=_dialer_run)

    camp = subparsers.add_parser("campaign", help="create and control campaigns")
    csub = camp.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    create = csub.add_parser("create", help="a new campaign (stopped)")
    create.add_argument("name")
    create.add_argument("--country", required=True, choices=["MX", "CO", "PE", "US"])
    create.add_argument("--profile", help="compliance profile (default: the country's)")
    create.add_argument("--mode", default="progressive", choices=DIAL_MODES)
    create.add_argument(
        "--caller-id",
        action="append",
        default=[],
        help="caller ID registered for the country (cobrador caller-id add; repeatable)",
    )
    create.add_argument(
        "--abandon-target", default="0.03", help="ratio, at most the profile's 0.03"
    )
    create.add_argument(
        "--rules",
        type=Path,
        metavar="FILE.toml",
        help="campaign rules: compliance overrides (tighten only), recycle, priority, scripts",
    )
    create.set_defaults(func=_campaign_create)
    for action in ("start", "stop", "show"):
        p = csub.add_parser(action, help=f"{action} a campaign")
        p.add_argument("name")
        p.set_defaults(func=_campaign_action)
    skill = csub.add_parser(
        "skill-group", help="name the skill group whose agents take the campaign's inbound calls"
    )
    skill.add_argument("name")
    which = skill.add_mutually_exclusive_group(required=True)
    which.add_argument("group", nargs="?", help="a group made with `cobrador skill-group create`")
    which.add_argument(
        "--none", action="store_true", help="no group: the campaign's own agents take its calls"
    )
    skill.set_defaults(func=_campaign_skill_group)
    cid = csub.add_parser(
        "caller-id", help="set the caller IDs a campaign shows (each registered for its country)"
    )
    cid.add_argument("name")
    cid.add_argument("number", nargs="+", help="registered caller ID (cobrador caller-id list)")
    cid.set_defaults(func=_campaign_caller_ids)
    assign = csub.add_parser(
        "assign",
        help="put accounts without a campaign, of the campaign's country, into this one",
    )
    assign.add_argument("name")
    assign.add_argument("--country", help="must be the campaign's country (the default)")
    assign.set_defaults(func=_campaign_assign)


def _dialer_run(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.runtime import redis_url
    from store.db import open_engine

    engine = open_engine(settings)
    with redis_url(settings) as url:
        return asyncio.run(_run_service(settings, engine, url, args.campaign))


async def _run_service(settings: Settings, engine: Any, url: str, campaigns: list[str]) -> int:
    import redis.asyncio as aioredis

    from cobrador.ground.errors import UserError
    from dialer.ami import AMIClient
    from dialer.service import DialerService
    from metrics.http import MetricsServer
    from metrics.roles import DIALER, registry_for

    client = aioredis.Redis.from_url(url)
    from dialer.campaign_dialer import DIALER_EVENTS

    ami = AMIClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret,
        event_filter=DIALER_EVENTS,
    )
    service = DialerService(
        sql=engine, redis=client, ami=ami, settings=settings, campaigns=campaigns
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.request_stop)
    metrics = MetricsServer(settings.metrics_host, settings.metrics_port,
                            registry=registry_for(DIALER),
                            max_connections=settings.metrics_max_connections,
                            max_per_address=settings.metrics_max_connections_per_address)  # fmt: skip
    await metrics.start()
    try:
        await service.run()
    except LookupError as exc:
        raise UserError(str(exc)) from exc
    finally:
        await metrics.stop()
        await client.aclose()
    return 0


def _campaign_create(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.orm import Session

    from cobrador.ground.errors import UserError
    from compliance.profile import ProfileError, load_profiles, tighten
    from dialer.inbound.settings import InboundSettingsError, inbound_settings
    from dialer.inbound.skills import SkillGroupError, check_group_exists
    from dialer.recycle import RecycleConfigError, rules_for
    from store import audit
    from store.db import open_engine
    from store.models import Campaign

    config: dict[str, Any] = {}
    if args.rules:
        try:
            config = tomllib.loads(args.rules.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"campaign rules {args.rules}: {exc}") from exc
    profile_name = args.profile or args.country
    profiles = load_profiles()
    if profile_name not in profiles:
        raise UserError(
            f"unknown profile {profile_name!r}; available: {', '.join(sorted(profiles))}"
        )
    if profiles[profile_name].country != args.country:
        raise UserError(
            f"profile {profile_name!r} is of {profiles[profile_name].country}, not "
            f"{args.country}: a campaign runs a profile of its own country"
        )
    try:
        target = Decimal(args.abandon_target)
    except InvalidOperation as exc:
        raise UserError(f"--abandon-target {args.abandon_target!r} is not a number") from exc
    if not Decimal("0") < target <= Decimal("0.03"):
        raise UserError("--abandon-target must be above 0 and at most 0.03 (the profile's limit)")
    try:
        tighten(profiles[profile_name], config.get("compliance"), args.name)
        rules_for(config.get("recycle"))
    except (ProfileError, RecycleConfigError) as exc:
        raise UserError(str(exc)) from exc
    from compliance import campaign_limits

    # Day and second limits are added to dates: out of range they raised OverflowError
    # on every page that showed the campaign's accounts.
    bad_limits = campaign_limits.problems(config)
    if bad_limits:
        raise UserError(f"campaign rules {args.rules}: " + "; ".join(bad_limits))
    try:
        from compliance.plan_rules import PlanRulesError, plan_rules_for

        plan_rules_for(config)
    except PlanRulesError as exc:
        raise UserError(f"campaign rules {args.rules}: {exc}") from exc
    try:
        inbound = inbound_settings(config, args.country, args.caller_id)
    except InboundSettingsError as exc:
        raise UserError(f"campaign rules {args.rules}: {exc}") from exc
    # Tables of the rules file that layers above the dialer read (outreach's strategy
    # and messages) are checked by the checks those layers register here.
    for check in RULES_CHECKS:
        problems = check(config)
        if problems:
            raise UserError(f"campaign rules {args.rules}: " + "; ".join(problems))
    engine = open_engine(settings)
    with Session(engine) as s, s.begin():
        if s.query(Campaign).filter_by(name=args.name).first():
            raise UserError(f"campaign {args.name!r} already exists")
        caller_ids = _registered_caller_ids(s, args.caller_id, args.country)
        if inbound.skill_group is not None:
            try:
                check_group_exists(s, inbound.skill_group)
            except SkillGroupError as exc:
                raise UserError(f"campaign rules {args.rules}: inbound.skill_group: {exc}") from exc
        campaign = Campaign(name=args.name, country=args.country, profile=profile_name, dial_mode=args.mode,
                            status="stopped", abandon_target=target,
                            caller_ids=caller_ids, config=config)  # fmt: skip
        s.add(campaign)
        s.flush()
        audit.append(s, "campaign_change", {"campaign": args.name, "created": True, "profile": profile_name,
                                            "mode": args.mode, "abandon_target": str(target)},
                     actor="cli", subject=f"campaign:{campaign.id}")  # fmt: skip
    print(
        f"campaign {args.name} created (stopped); start it with: cobrador campaign start {args.name}"
    )
    if not caller_ids:
        print(
            f"campaign {args.name} has no caller ID and will not dial until it has one registered "
            f"for {args.country}: cobrador campaign caller-id {args.name} NUMBER"
        )
    return 0


def _registered_caller_ids(session: Any, numbers: list[str], country: str) -> list[str]:
    """The numbers as E.164 digits; UserError unless each is registered for `country`."""
    from cobrador.ground.errors import UserError
    from compliance.caller_ids import CallerIdError, normalize, registered

    known = registered(session, country)
    out: list[str] = []
    for number in numbers:
        try:
            digits = normalize(number, country)
        except CallerIdError as exc:
            raise UserError(f"--caller-id: {exc}") from exc
        if digits not in known:
            raise UserError(
                f"caller ID +{digits} is not registered for {country} (CONDUSEF: a campaign "
                f"shows only registered numbers, never a hidden one); register it first: "
                f"cobrador caller-id add +{digits} --country {country} --reference FOLIO"
            )
        if digits not in out:
            out.append(digits)
    return out


def _campaign_caller_ids(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.orm import Session

    from cobrador.ground.errors import UserError
    from store import audit
    from store.db import open_engine
    from store.models import Campaign

    engine = open_engine(settings)
    with Session(engine) as s, s.begin():
        campaign = s.query(Campaign).filter_by(name=args.name).first()
        if campaign is None:
            raise UserError(f"no campaign named {args.name!r}")
        numbers = _registered_caller_ids(s, args.number, campaign.country)
        before = list(campaign.caller_ids or [])
        campaign.caller_ids = numbers
        audit.append(s, "campaign_change", {"campaign": args.name, "caller_ids": numbers,
                                            "caller_ids_before": before},
                     actor="cli", subject=f"campaign:{campaign.id}")  # fmt: skip
    print(f"campaign {args.name} shows caller ID(s) {', '.join('+' + n for n in numbers)}")
    return 0


def _campaign_action(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.orm import Session

    from cobrador.ground.errors import UserError
    from cobrador.ground.runtime import redis_url
    from compliance.caller_ids import check_campaign, registered
    from store import audit
    from store.db import open_engine
    from store.models import Campaign

    engine = open_engine(settings)
    with Session(engine) as s, s.begin():
        campaign = s.query(Campaign).filter_by(name=args.name).first()
        if campaign is None:
            raise UserError(f"no campaign named {args.name!r}")
        if args.campaign_command in ("start", "stop"):
            status = "running" if args.campaign_command == "start" else "stopped"
            campaign.status = status
            audit.append(s, "campaign_change", {"campaign": args.name, "status": status},
                         actor="cli", subject=f"campaign:{campaign.id}")  # fmt: skip
        info: dict[str, Any] = {"name": campaign.name, "country": campaign.country, "profile": campaign.profile,
                "dial_mode": campaign.dial_mode, "status": campaign.status,
                "abandon_target": str(campaign.abandon_target), "caller_ids": campaign.caller_ids}  # fmt: skip
        # Why the campaign cannot dial for want of a registered caller ID (null: it can).
        info["caller_id_problem"] = check_campaign(
            campaign.caller_ids or [], registered(s, campaign.country), campaign.country
        ).problem
    if args.campaign_command in ("start", "stop") and settings.redis_url:
        with redis_url(settings) as url:
            asyncio.run(_publish(url, CampaignChange(campaign=args.name, status=info["status"])))
    if args.campaign_command == "show" and settings.redis_url:
        with redis_url(settings) as url:
            info["live"] = asyncio.run(_live(url, args.name))
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def stop_paid_accounts(settings: Settings, account_ids: set[int]) -> None:
    """Accounts an import made paid (in SQL already: every final check reads it): the
    running loops drop them from the hopper and hang up their ringing calls now."""
    if not settings.redis_url or not account_ids:
        return  # no shared Redis, no dialer of another process to tell
    from redis.exceptions import RedisError

    from cobrador.ground.runtime import redis_url

    try:
        with redis_url(settings) as url:
            asyncio.run(_publish_all(url, [StopAccount(a, "paid") for a in sorted(account_ids)]))
    except (RedisError, OSError) as exc:
        print(f"{len(account_ids)} account(s) paid; the dialers were not told now ({exc}): "
              "their final check reads it before any call", file=sys.stderr)  # fmt: skip


def stop_third_party_account(settings: Settings, account_id: int) -> None:
    """An account one of whose numbers was just marked a third party's (in SQL already):
    the running loops drop it and hang up its call not yet answered, as after the
    supervisor's mark in the console."""
    if not settings.redis_url:
        return  # no shared Redis, no dialer of another process to tell
    from redis.exceptions import RedisError

    from cobrador.ground.runtime import redis_url

    try:
        with redis_url(settings) as url:
            asyncio.run(_publish(url, StopAccount(account_id, "third_party")))
    except (RedisError, OSError) as exc:
        print(f"the dialers were not told now ({exc}): their final check reads the mark "
              "before any call", file=sys.stderr)  # fmt: skip


async def _publish_all(url: str, messages: list[Message]) -> None:
    import redis.asyncio as aioredis

    from dialer.messages import Notifier

    client = aioredis.Redis.from_url(url)
    try:
        notifier = Notifier(client)
        for message in messages:
            await notifier.send(message)
    finally:
        await client.aclose()


async def _publish(url: str, message: Message) -> None:
    import redis.asyncio as aioredis

    from dialer.messages import Notifier

    client = aioredis.Redis.from_url(url)
    await Notifier(client).send(message)
    await client.aclose()


async def _live(url: str, name: str) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from dialer.hopper import Hopper
    from dialer.messages import wallboard_key

    client = aioredis.Redis.from_url(url)
    sizes = await Hopper(client, name).sizes()
    board = await client.get(wallboard_key(name))
    await client.aclose()
    return {"hopper": sizes, "wallboard": json.loads(board) if board else None}


def _campaign_skill_group(args: argparse.Namespace, settings: Settings) -> int:
    from cobrador.ground.errors import UserError
    from dialer.inbound.skills import SkillGroupError, set_campaign_group
    from store.db import open_engine

    group = None if args.none else args.group
    try:
        set_campaign_group(open_engine(settings), args.name, group)
    except SkillGroupError as exc:
        raise UserError(str(exc)) from exc
    if group is None:
        print(f"campaign {args.name}: its own agents take its inbound calls")
    else:
        print(f"campaign {args.name}: agents of skill group {group} take its inbound calls first")
    return 0


def _campaign_assign(args: argparse.Namespace, settings: Settings) -> int:
    """A campaign holds accounts of its own country only (docs/compliance.md, jurisdiction):
    the others are skipped, counted by country, and the operator told where they go."""
    from sqlalchemy import func, select, update
    from sqlalchemy.orm import Session

    from cobrador.ground.errors import UserError
    from store import audit
    from store.db import open_engine
    from store.models import Account, Campaign

    engine = open_engine(settings)
    with Session(engine) as s, s.begin():
        campaign = s.query(Campaign).filter_by(name=args.name).first()
        if campaign is None:
            raise UserError(f"no campaign named {args.name!r}")
        country = campaign.country.upper()
        if args.country and args.country.upper() != country:
            raise UserError(
                f"campaign {args.name!r} holds accounts of {country} only; the accounts of "
                f"{args.country.upper()} go to a campaign of their country "
                f"(cobrador campaign create NAME --country {args.country.upper()})"
            )
        free = Account.campaign_id.is_(None)
        query = update(Account).where(free, Account.country == country)
        count = s.execute(query.values(campaign_id=campaign.id)).rowcount  # type: ignore[attr-defined]
        skipped = {
            other or "?": n
            for other, n in s.execute(
                select(Account.country, func.count()).where(free).group_by(Account.country)
            ).all()
        }
        audit.append(s, "campaign_change", {"campaign": args.name, "assigned_accounts": count,
                                            "country": country, "skipped_by_country": skipped},
                     actor="cli", subject=f"campaign:{campaign.id}")  # fmt: skip
    print(f"{count} account(s) of {country} assigned to {args.name}")
    if skipped:
        by_country = ", ".join(f"{n} of {c}" for c, n in sorted(skipped.items()))
        print(
            f"{sum(skipped.values())} account(s) of other countries skipped ({by_country}): "
            f"a campaign holds accounts of its own country only, so each debtor's country "
            f"law applies; assign them to a campaign of their country"
        )
    return 0
