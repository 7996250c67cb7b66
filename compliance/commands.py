"""CLI commands of compliance: `audit verify|export` (and the log's commands in
compliance/transparency/commands.py), `registry import`, `check`."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO

from cobrador.ground.errors import UserError
from cobrador.ground.settings import Settings
from store.spreadsheet import FLAVOURS, SafeWriter


def register(subparsers: Any) -> None:
    from compliance.debtor_time import account_day, debtor_day
    from compliance.transparency import commands as log_commands
    from store.commands import DEBTOR_DATE, DEBTOR_DAY

    if account_day not in DEBTOR_DAY:
        DEBTOR_DAY.append(account_day)  # `cobrador import payments` keeps and breaks by it
    if debtor_day not in DEBTOR_DATE:
        DEBTOR_DATE.append(debtor_day)  # `cobrador import accounts` starts stages by it

    audit = subparsers.add_parser("audit", help="the verifiable audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check every entry against the signed checkpoints of every witness "
        "(exit 0 intact, 1 tampered, 3 not fully verifiable)",
    )
    log_commands.add_verify_arguments(verify)
    verify.add_argument(
        "--recordings",
        action="store_true",
        help="also re-hash every recording file: names each one changed, truncated or removed",
    )
    verify.set_defaults(func=_audit_verify)
    log_commands.register(audit_sub)
    export = audit_sub.add_parser("export", help="write entries as CSV or JSON lines")
    export.add_argument("--from", dest="start", help="ISO 8601 instant (inclusive)")
    export.add_argument("--to", dest="end", help="ISO 8601 instant (exclusive)")
    export.add_argument(
        "--format",
        choices=("csv", "excel-es", "jsonl"),
        default="jsonl",
        help="excel-es: CSV with a UTF-8 BOM and ';' (Spanish Excel); CSV cells never formulas",
    )
    export.add_argument("--output", "-o", help="file to write (default: stdout)")
    export.set_defaults(func=_audit_export)

    registry = subparsers.add_parser("registry", help="do-not-call registries (REUS...)")
    registry_sub = registry.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    imp = registry_sub.add_parser(
        "import", help="load a registry file beside the current one and swap it in atomically"
    )
    imp.add_argument("file", help="one number per line, or a CSV with a `phone` column")
    imp.add_argument("--name", required=True, help="registry name, e.g. reus")
    imp.add_argument("--country", help="country of national numbers (e.g. MX)")
    imp.add_argument(
        "--skip-invalid", action="store_true", help="import the good lines, write bad ones aside"
    )
    imp.add_argument("--rejects", help="where --skip-invalid writes bad lines (CSV)")
    imp.set_defaults(func=_registry_import)
    status = registry_sub.add_parser(
        "status", help="each registry's last import and the version Redis answers with"
    )
    status.set_defaults(func=_registry_status)

    profile = subparsers.add_parser("profile", help="country profiles and their sources")
    profile_sub = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    show = profile_sub.add_parser(
        "show", help="print a profile (or a campaign's tightened one) with its sources"
    )
    show.add_argument("id", nargs="?", help="profile id, e.g. MX (default: all)")
    show.add_argument("--campaign", help="show the profile as this campaign runs it")
    show.set_defaults(func=_profile_show)

    optout = subparsers.add_parser(
        "optout", help="a debtor's request to stop a channel, with its evidence (docs/channels.md)"
    )
    optout_sub = optout.add_subparsers(dest="optout_command", metavar="ACTION", required=True)
    for action, text in (("add", "stop a channel at a number or address, or for the account"),
                         ("lift", "the debtor authorised the channel again: lift its opt-out")):  # fmt: skip
        sub = optout_sub.add_parser(action, help=text)
        sub.add_argument("--account", required=True, help="account external reference")
        sub.add_argument("--channel", required=True, choices=CHECK_CHANNELS)
        sub.add_argument("--phone", help="the number (call, sms, whatsapp); none: every number")
        sub.add_argument("--email", help="the address (email); none: the account's")
        sub.add_argument("--evidence", required=True,
                         help="what proves it: a form id, a recording, a ticket")  # fmt: skip
        sub.set_defaults(func=_optout, action=action)
    listing = optout_sub.add_parser("list", help="the account's opt-outs in force, as JSON lines")
    listing.add_argument("--account", required=True, help="account external reference")
    listing.set_defaults(func=_optout, action="list")

    check = subparsers.add_parser(
        "check",
        help="evaluate one contact (a call by default) now (or --at) and print the decision; "
        "counts nothing",
    )
    check.add_argument("--account", required=True, help="account external reference")
    check.add_argument(
        "--channel", default="call", choices=CHECK_CHANNELS,
        help="contact channel (default: call)",
    )  # fmt: skip
    check.add_argument("--phone", help="number, E.164 or national (call, sms, whatsapp)")
    check.add_argument("--email", help="e-mail address (default: the account's)")
    check.add_argument("--at", help="ISO 8601 instant with zone (default: now)")
    check.add_argument("--campaign", help="campaign name (default: the account's campaign)")
    check.set_defaults(func=_check)


# The channels a check or an opt-out names (store.models.ContactChannel without chat,
# which has no address the profiles know, and portal, the debtor's own actions).
CHECK_CHANNELS = ("call", "sms", "whatsapp", "email", "visit", "letter")
PHONE_ARG_CHANNELS = ("call", "sms", "whatsapp")


def parse_instant(value: str, what: str) -> datetime:
    """An ISO 8601 instant with a zone (or a date, meaning UTC midnight); else UserError."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{what}: {value!r} is not an ISO 8601 date or time") from exc
    if len(text) == 10:  # a bare date
        return parsed.replace(tzinfo=UTC)
    if parsed.tzinfo is None:
        raise UserError(f"{what}: {value!r} has no time zone; add Z or an offset like -06:00")
    return parsed


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.transparency.commands import run_verify
    from store.db import open_engine

    engine = open_engine(settings)
    status = run_verify(args, settings, engine)
    if args.recordings:
        recordings = _verify_recordings(engine, settings)
        status = 1 if 1 in (status, recordings) else max(status, recordings)
    return status


def _verify_recordings(engine: Any, settings: Settings) -> int:
    from store.recordings.storage import DirectoryStorage
    from store.recordings.verify import files_kept, verify_recordings

    def progress(checked: int) -> None:
        if checked % 1000 == 0:
            print(f"... {checked} recordings re-hashed", file=sys.stderr)

    if not settings.recordings_dir.is_dir():
        if files_kept(engine) == 0:
            print(f"recordings intact: none stored yet ({settings.recordings_dir} "
                  "is created with the first one)")  # fmt: skip
            return 0
        print(f"recordings NOT verified: directory {settings.recordings_dir} does not exist "
              "(COBRADOR_RECORDINGS_DIR)", file=sys.stderr)  # fmt: skip
        return 1
    report = verify_recordings(engine, DirectoryStorage(settings.recordings_dir), progress)
    for problem in report.problems:
        print(problem.describe(), file=sys.stderr)
    for unknown in report.unknown:
        print(unknown.describe(), file=sys.stderr)
    counts = Counter(problem.problem for problem in report.problems)
    if report.unknown:
        counts["file without a row"] = len(report.unknown)
    if report.ok:
        print(f"recordings intact: {report.checked} files match their hashes "
              f"({report.skipped} purged or never stored); every file on disk has its row "
              f"({report.in_progress} of calls still in progress)")  # fmt: skip
        return 0
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(f"recordings NOT intact: {len(report.problems)} of {report.checked} rows, "
          f"{len(report.unknown)} of {report.files} files ({detail})", file=sys.stderr)  # fmt: skip
    return 1


EXPORT_FIELDS = ("id", "created_at", "kind", "actor", "subject", "payload", "prev_hash", "hash")


def _audit_export(args: argparse.Namespace, settings: Settings) -> int:
    from store.audit import canonical_json, iter_export
    from store.db import open_engine

    start = parse_instant(args.start, "--from") if args.start else None
    end = parse_instant(args.end, "--to") if args.end else None
    if start and end and end <= start:
        raise UserError("--to must be later than --from")
    engine = open_engine(settings)
    out: TextIO
    with _open_output(args.output) as out:
        count = 0
        flavour = FLAVOURS.get(args.format)
        writer = SafeWriter(out, flavour) if flavour else None
        if writer:
            writer.writerow(EXPORT_FIELDS)
        for row in iter_export(engine, start, end):
            if writer:
                writer.writerow(
                    [canonical_json(row[f]) if f == "payload" else row[f] for f in EXPORT_FIELDS]
                )
            else:
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    print(f"exported {count} audit entries", file=sys.stderr)
    return 0


class _open_output:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.fh: TextIO | None = None

    def __enter__(self) -> TextIO:
        if not self.path or self.path == "-":
            return sys.stdout
        try:
            self.fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {exc}") from exc
        return self.fh

    def __exit__(self, *exc: object) -> None:
        if self.fh:
            self.fh.close()


def _registry_import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    import redis

    from cobrador.ground.runtime import redis_url
    from compliance.registry_import import RegistryImportError, import_registry
    from store.db import open_engine

    engine = open_engine(settings)
    with redis_url(settings) as url:
        client = redis.Redis.from_url(url)
        try:
            report = import_registry(
                engine,
                client,
                name=args.name,
                path=Path(args.file),
                country=args.country,
                skip_invalid=args.skip_invalid,
                rejects_file=Path(args.rejects) if args.rejects else None,
            )
        except RegistryImportError as exc:
            raise UserError(str(exc)) from exc
        except redis.RedisError as exc:
            raise UserError(f"Redis is not reachable: {exc}") from exc
        finally:
            client.close()
    print(
        f"registry {report.name}: {report.count} numbers, version {report.version} "
        f"(sha256 {report.sha256}), replaced {report.replaced or 'nothing'}"
    )
    if report.rejects:
        print(
            f"{len(report.rejects)} bad line(s) written to {report.rejects_file}", file=sys.stderr
        )
    return 0


def _check_address(args: argparse.Namespace) -> None:
    """--phone for the channels that reach a number, --email (or none) for e-mail,
    neither for a visit or a letter (the account's address); UserError otherwise."""
    if args.channel in PHONE_ARG_CHANNELS:
        if not args.phone:
            raise UserError(f"--phone: a {args.channel} check needs the number")
        if args.email:
            raise UserError(f"--email: a {args.channel} goes to a number; give --phone only")
    elif args.channel == "email":
        if args.phone:
            raise UserError("--phone: an e-mail goes to an address; give --email or nothing")
    elif args.phone or args.email:
        raise UserError(
            f"a {args.channel} goes to the account's address: give neither --phone nor --email"
        )


def _check(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import contextlib

    import phonenumbers
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    from cobrador.ground.masking import mask_email, mask_phone, mask_postal
    from cobrador.ground.runtime import redis_url
    from compliance.profile import ProfileError, load_profiles
    from compliance.service import ComplianceService
    from store.db import open_engine, transaction
    from store.email_address import is_email_address
    from store.models import Account

    _check_address(args)
    if args.email is not None and not is_email_address(args.email.strip()):
        raise UserError(f"--email: {args.email!r} is not an e-mail address")
    now = parse_instant(args.at, "--at") if args.at else datetime.now(UTC)
    engine = open_engine(settings)
    with transaction(engine) as session:
        from sqlalchemy import select

        country = session.execute(
            select(Account.country).where(Account.external_ref == args.account)
        ).scalar_one_or_none()
    if country is None:
        raise UserError(f"no account with reference {args.account!r}")
    e164 = None
    if args.phone:
        try:
            parsed = phonenumbers.parse(args.phone, country.upper())
        except phonenumbers.NumberParseException as exc:
            raise UserError(
                f"--phone: cannot read {args.phone!r} as a phone number ({exc})"
            ) from exc
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    async def run(url: str) -> dict[str, Any]:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            service = ComplianceService(engine, client, load_profiles(settings.profiles_dir))
            if service.registry_sync is not None:
                # A registry Redis lacks is reloaded from SQL first (or, while another
                # process reloads it, the decision says registry_unavailable).
                with contextlib.suppress(RedisError, OSError):
                    await service.registry_sync.ensure_all()
            with transaction(engine) as session:
                try:
                    item = service.load_item(
                        session,
                        account_ref=args.account,
                        phone_e164=e164,
                        campaign_name=args.campaign,
                        channel=args.channel,
                        address=args.email.strip() if args.email else None,
                    )
                except (LookupError, ValueError, ProfileError) as exc:
                    raise UserError(str(exc)) from exc
            [(decision, decision_id)] = await service.evaluate_and_record(
                [item], now, stage="check", actor="cli"
            )
        finally:
            await client.aclose()  # type: ignore[attr-defined]
        why: dict[str, Any] = {}
        if "opted_out" in decision.reasons:
            why["opted_out"] = _opt_outs_of(engine, item.account.id, item.channel)
        return {
            "channel": item.channel,
            "allowed": decision.allowed,
            "reasons": list(decision.reasons),
            "local_time": decision.local_time,
            "timezone": decision.timezone,
            # The debtor's country's profile, whatever the campaign runs (jurisdiction).
            "profile": item.profile.id,
            "profile_name": item.profile.name,
            "profile_version": decision.profile_version,
            "registry_versions": dict(decision.registry_versions),
            "account": args.account,
            "phone": mask_phone(item.phone_e164) if item.phone_e164 else None,
            **({"email": mask_email(item.address)} if item.channel == "email" else {}),
            **({"postal": mask_postal(item.address)} if item.channel == "letter" else {}),
            "evaluated_at": now.isoformat(),
            "decision_id": decision_id,
            **why,
        }

    with redis_url(settings) as url:
        result = asyncio.run(run(url))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["allowed"] else 1


def _opt_outs_of(engine: Any, account_id: int, channel: str) -> list[dict[str, Any]]:
    """The opt-outs in force that refuse this channel: when, how, and at which address."""
    from cobrador.ground.masking import mask_email, mask_phone
    from compliance.opt_outs import opt_outs_in_force
    from store.db import transaction

    with transaction(engine) as session:
        rows = [r for r in opt_outs_in_force(session, account_id) if r.channel == channel]
        return [
            {
                "source": r.source,
                "address": (mask_email if channel == "email" else mask_phone)(r.address)
                if r.address
                else None,
                "created_at": r.created_at.isoformat(),
                "opt_out_id": r.id,
            }
            for r in rows
        ]


def _optout(args: argparse.Namespace, settings: Settings) -> int:
    import phonenumbers
    from sqlalchemy import select

    from compliance.opt_outs import OptOutError, lift_opt_out, opt_outs_in_force, record_opt_out
    from store.db import open_engine, transaction
    from store.models import Account

    engine = open_engine(settings)
    with transaction(engine) as session:
        account = session.execute(
            select(Account).where(Account.external_ref == args.account)
        ).scalar_one_or_none()
        if account is None:
            raise UserError(f"no account with reference {args.account!r}")
        if args.action == "list":
            for row in opt_outs_in_force(session, account.id):
                print(json.dumps({"id": row.id, "channel": row.channel, "address": row.address,
                                  "source": row.source, "created_at": row.created_at.isoformat(),
                                  "evidence": row.evidence}, ensure_ascii=False))  # fmt: skip
            return 0
        _check_address_optional(args)
        address = None
        if args.phone:
            try:
                parsed = phonenumbers.parse(args.phone, account.country.upper())
            except phonenumbers.NumberParseException as exc:
                raise UserError(f"--phone: cannot read {args.phone!r} ({exc})") from exc
            address = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        elif args.channel == "email":
            address = (args.email or account.email or "").strip() or None
            if address is None:
                raise UserError(f"account {args.account!r} has no e-mail address; give --email")
        evidence = {"note": args.evidence.strip()}
        try:
            if args.action == "add":
                result = record_opt_out(session, channel=args.channel, source="operator",
                                        evidence=evidence, actor="cli", address=address,
                                        account_id=account.id)  # fmt: skip
                print(json.dumps({"opt_out_ids": list(result.ids), "new": result.created}))
            else:
                lifted = lift_opt_out(session, account_id=account.id, channel=args.channel,
                                      evidence=evidence, actor="cli", address=address)  # fmt: skip
                print(json.dumps({"lifted": lifted}))
        except OptOutError as exc:
            raise UserError(str(exc)) from exc
    return 0


def _check_address_optional(args: argparse.Namespace) -> None:
    if args.email and args.channel != "email":
        raise UserError(f"--email: a {args.channel} opt-out takes --phone or nothing")
    if args.phone and args.channel not in PHONE_ARG_CHANNELS:
        raise UserError(f"--phone: a {args.channel} opt-out is not for a number")


def _registry_status(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import redis
    import redis.asyncio as aioredis
    from sqlalchemy import select

    from cobrador.ground.runtime import redis_url
    from compliance.registry import RegistryWriter
    from compliance.registry_sync import RegistrySync
    from store.db import open_engine, transaction
    from store.models import RegistryImport

    engine = open_engine(settings)
    with transaction(engine) as session:
        rows = session.execute(select(RegistryImport).order_by(RegistryImport.id)).scalars().all()
        latest = {row.name: row for row in rows}
    now = datetime.now(UTC)

    async def sync(url: str) -> dict[str, str]:
        """Reload what Redis lacks from SQL first; name -> what was found or done."""
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=60)
        try:
            return await RegistrySync(engine, client).ensure_all()
        except (redis.RedisError, OSError):
            return {}
        finally:
            await client.aclose()  # type: ignore[attr-defined]

    with redis_url(settings) as url:
        states = asyncio.run(sync(url)) if latest else {}
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            for name, row in sorted(latest.items()):
                try:
                    live = RegistryWriter(client, name).current_version()
                except redis.RedisError:
                    live = "unreachable"
                print(
                    json.dumps(
                        {
                            "name": name,
                            "version": row.version,
                            "count": row.count,
                            "imported_at": row.imported_at.isoformat(),
                            "age_days": round((now - row.imported_at).total_seconds() / 86400, 1),
                            "redis_version": live,
                            "in_force": live == row.version,
                            # in_force, reloaded (from SQL, now), reloading (by another
                            # process), numbers_not_kept (imported before: re-import it)
                            "reload": states.get(name, "unknown"),
                        }
                    )
                )
        finally:
            client.close()
    if not latest:
        print("no registry imported yet", file=sys.stderr)
    return 0


def _profile_show(args: argparse.Namespace, settings: Settings) -> int:
    from compliance.profile import Profile, ProfileError, load_profiles, tighten

    try:
        profiles = load_profiles(settings.profiles_dir)
    except ProfileError as exc:
        raise UserError(str(exc)) from exc
    chosen: list[Profile]
    if args.campaign:
        from sqlalchemy import select

        from store.db import open_engine, transaction
        from store.models import Campaign

        with transaction(open_engine(settings)) as session:
            campaign = session.execute(
                select(Campaign).where(Campaign.name == args.campaign)
            ).scalar_one_or_none()
            if campaign is None:
                raise UserError(f"no campaign named {args.campaign!r}")
            base = profiles.get(campaign.profile)
            if base is None:
                raise UserError(f"campaign uses unknown profile {campaign.profile!r}")
            try:
                chosen = [tighten(base, (campaign.config or {}).get("compliance"), campaign.name)]
            except ProfileError as exc:
                raise UserError(str(exc)) from exc
    elif args.id:
        if args.id not in profiles:
            raise UserError(f"no profile {args.id!r}; known: {', '.join(sorted(profiles))}")
        chosen = [profiles[args.id]]
    else:
        chosen = [profiles[k] for k in sorted(profiles)]
    for p in chosen:
        body = p.as_dict()
        body["profile_version"] = p.full_version
        body["name"] = p.name
        body["sources"] = {
            **dict(p.sources),
            "caps": [c.source for c in p.caps],
            "registries": {r.name: r.source for r in p.registries},
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
    return 0
