"""Validation of one account row: pure, no I/O, every problem reported at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import phonenumbers

from store.email_address import MAX_EMAIL, is_email_address
from store.geo import CoordinateError, check_point, parse_coordinate
from store.importing.csv_source import CsvRow, RowError
from store.importing.fields import (
    CLEAR_PROTECTION,
    DEFAULT_CURRENCY,
    FieldError,
    parse_country,
    parse_currency,
    parse_date,
    parse_money,
    parse_phone,
    parse_protection,
    parse_region,
    parse_third_party,
    parse_yes_no,
)
from store.models import AccountStatus, PhoneStatus, PhoneType, Stage

MAX_PHONES = 5
REQUIRED = {"external_ref", "debtor_name", "country"}
KNOWN = {
    "external_ref", "debtor_name", "country", "region", "timezone", "balance", "currency",
    "due_date", "status", "stage", "address", "latitude", "longitude",
    "email", "email_consent", "email_consent_ref", "visit_authorisation_ref",
    "protection", "protection_ref",
} | {f"phone_{n}{suffix}" for n in range(1, MAX_PHONES + 1)
     for suffix in ("", "_type", "_consent", "_consent_ref", "_channels", "_third_party")}  # fmt: skip

# The account columns an import sets, besides external_ref (the key).
ACCOUNT_FIELDS = (
    "debtor_name", "country", "region", "timezone", "balance", "currency", "due_date",
    "status", "stage", "stage_explicit", "custom_fields", "address", "latitude", "longitude",
    "email", "email_consent", "email_consent_ref", "visit_authorisation_ref",
)  # fmt: skip
MAX_ADDRESS = 300
MAX_REF = 100  # evidence references: consent forms, recordings, signed authorisations

# The channels a debtor can authorise on a number (phone_N_channels), in stored order;
# a consented number without the column is authorised for calls only.
PHONE_CHANNELS = ("call", "sms", "whatsapp")
DEFAULT_PHONE_CHANNELS = "call"

# Names and values looked up once: a million-row import checks them per row.
PHONE_SLOTS = [(n, f"phone_{n}", f"phone_{n}_type", f"phone_{n}_consent", f"phone_{n}_consent_ref",
                f"phone_{n}_channels", f"phone_{n}_third_party")
               for n in range(1, MAX_PHONES + 1)]  # fmt: skip
STATUSES = list(AccountStatus.__members__)
STAGES = list(Stage.__members__)
PHONE_TYPES = list(PhoneType.__members__)
ACTIVE = AccountStatus.active.value
MOBILE = PhoneType.mobile.value
THIRD_PARTY, ACTIVE_PHONE = PhoneStatus.third_party.value, PhoneStatus.active.value
ZERO = Decimal("0")
FRIENDLY, FIRM, PRELEGAL = Stage.friendly.value, Stage.firm.value, Stage.prelegal.value

_TYPE_FROM_LIBRARY = {
    phonenumbers.PhoneNumberType.MOBILE: MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE: PhoneType.home.value,
}


@dataclass(frozen=True)
class PhoneRecord:
    position: int
    number_e164: str
    phone_type: str
    consent: bool
    consent_ref: str | None
    channels: str = DEFAULT_PHONE_CHANNELS  # "call,sms": the channels authorised
    # True: the number reaches someone who is not the debtor (status third_party);
    # False: clear such a mark; None: the file says nothing (the number keeps its status).
    third_party: bool | None = None

    @property
    def status(self) -> str:
        """The status a new phone row gets from the file."""
        return THIRD_PARTY if self.third_party else ACTIVE_PHONE


@dataclass
class AccountRecord:
    line: int
    external_ref: str
    debtor_name: str
    country: str
    region: str | None
    timezone: str | None
    balance: Decimal
    currency: str
    due_date: date | None
    status: str
    stage: str
    stage_explicit: bool
    custom_fields: dict[str, Any]
    phones: list[PhoneRecord] = field(default_factory=list)
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    email: str | None = None
    email_consent: bool = False
    email_consent_ref: str | None = None
    visit_authorisation_ref: str | None = None
    # None: the file says nothing (the account keeps its protection); "none": clear it;
    # else deceased | minor | insolvency (compliance/protection.py).
    protection: str | None = None
    protection_ref: str | None = None

    def account_values(self) -> dict[str, Any]:
        return {
            "external_ref": self.external_ref,
            "debtor_name": self.debtor_name,
            "country": self.country,
            "region": self.region,
            "timezone": self.timezone,
            "balance": self.balance,
            "currency": self.currency,
            "due_date": self.due_date,
            "status": self.status,
            "stage": self.stage,
            "stage_explicit": self.stage_explicit,
            "custom_fields": self.custom_fields,
            "address": self.address,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "email": self.email,
            "email_consent": self.email_consent,
            "email_consent_ref": self.email_consent_ref,
            "visit_authorisation_ref": self.visit_authorisation_ref,
        }


def protection_values(r: AccountRecord, now: Any) -> dict[str, Any]:
    """The protection columns a new account gets from its row (none when the row says
    nothing or `none`)."""
    value = r.protection if r.protection not in (None, CLEAR_PROTECTION) else None
    return {
        "protection": value,
        "protection_ref": r.protection_ref if value else None,
        "protection_at": now if value else None,
    }


# The debtor's date at the import's instant, from a row's time zone, country and
# region (compliance/debtor_time.py debtor_day with the instant bound): the store
# knows no zones, the layer that calls the import gives it. Picklable (a partial of
# module-level functions): the validation workers are processes.
RowDay = Callable[[str | None, str, str | None], date]


def fixed_day(day: date, timezone: str | None, country: str, region: str | None) -> date:
    """A RowDay that is `day` for every debtor (an import told its date: tests, --today)."""
    return day


def derive_stage(due_date: date | None, today: date) -> str:
    """Stage from days past due. Never derives `legal`: that stage means the
    account went to lawyers, a fact only the creditor can state."""
    if due_date is None:
        return FRIENDLY
    days = (today - due_date).days
    if days >= 90:
        return PRELEGAL
    if days >= 30:
        return FIRM
    return FRIENDLY


def validate_account_row(row: CsvRow, today: RowDay) -> AccountRecord | list[RowError]:
    """`today`: the debtor's date from the row's zone, country and region; days past
    due (the stage a new account starts in) count on it, never on UTC's date."""
    errors = list(row.errors)
    v = row.values
    line = row.line

    def fail(column: str, reason: str) -> None:
        errors.append(RowError(line, column, reason))

    get = v.get  # make_row has trimmed the cells; get(column, "") for absent columns

    ref = get("external_ref", "")
    if not ref:
        fail("external_ref", "external_ref is required")
    elif len(ref) > 64:
        fail("external_ref", "external_ref is longer than 64 characters")
    name = get("debtor_name", "")
    if not name:
        fail("debtor_name", "debtor_name is required")
    elif len(name) > 200:
        fail("debtor_name", "debtor_name is longer than 200 characters")

    country = ""
    try:
        country = parse_country(get("country", ""))
    except FieldError as exc:
        fail("country", str(exc))

    region = None
    if get("region", "") and country:
        try:
            region = parse_region(get("region", ""), country)
        except FieldError as exc:
            fail("region", str(exc))

    timezone = get("timezone", "") or None
    if timezone:
        from zoneinfo import available_timezones

        if timezone not in _zones(available_timezones):
            fail(
                "timezone",
                f"unknown time zone {timezone!r} (IANA name expected, e.g. America/Hermosillo)",
            )

    balance = ZERO
    if get("balance", ""):
        try:
            balance = parse_money(get("balance", ""), "balance")
        except FieldError as exc:
            fail("balance", str(exc))
    else:
        fail("balance", "balance is required (a decimal >= 0)")

    currency = DEFAULT_CURRENCY.get(country, "")
    if get("currency", ""):
        try:
            currency = parse_currency(get("currency", ""), country)
        except FieldError as exc:
            fail("currency", str(exc))

    due = None
    if get("due_date", ""):
        try:
            due = parse_date(get("due_date", ""), "due_date")
        except FieldError as exc:
            fail("due_date", str(exc))

    status = get("status", "").lower() or ACTIVE
    if status not in STATUSES:
        fail(
            "status", f"unknown status {get('status', '')!r}; expected one of {', '.join(STATUSES)}"
        )

    stage_text = get("stage", "").lower()
    stage_explicit = bool(stage_text)
    zone_ok = timezone is None or not any(e.column == "timezone" for e in errors)
    stage = stage_text or derive_stage(due, today(timezone if zone_ok else None, country, region))
    if stage_text and stage_text not in STAGES:
        fail("stage", f"unknown stage {get('stage', '')!r}; expected one of {', '.join(STAGES)}")

    address = get("address", "") or None
    if address is not None and len(address) > MAX_ADDRESS:
        fail("address", f"address is longer than {MAX_ADDRESS} characters")
    latitude, longitude = _coordinates(get("latitude", ""), get("longitude", ""), country, fail)

    email, email_consent, email_ref = _email(
        get("email", ""), get("email_consent", ""), get("email_consent_ref", ""), fail
    )
    visit_ref = get("visit_authorisation_ref", "") or None
    if visit_ref is not None and len(visit_ref) > MAX_REF:
        fail(
            "visit_authorisation_ref",
            f"visit_authorisation_ref is longer than {MAX_REF} characters",
        )

    protection = None
    try:
        protection = parse_protection(get("protection", ""))
    except FieldError as exc:
        fail("protection", str(exc))
    protection_ref = get("protection_ref", "") or None
    if protection_ref is not None and len(protection_ref) > MAX_REF:
        fail("protection_ref", f"protection_ref is longer than {MAX_REF} characters")
    elif protection_ref is not None and protection in (None, "none"):
        fail("protection_ref", "protection_ref given but protection is empty or none")

    phones: list[PhoneRecord] = []
    seen_numbers: dict[str, int] = {}
    for n, col, type_col, consent_col, ref_col, channels_col, third_col in PHONE_SLOTS:
        number_text = get(col, "")
        type_text = get(type_col, "").lower()
        consent_text = get(consent_col, "")
        consent_ref = get(ref_col, "") or None
        channels_text = get(channels_col, "")
        third_text = get(third_col, "")
        if not number_text:
            if type_text or consent_text or consent_ref or channels_text or third_text:
                fail(col, f"{col}_type/consent/channels/third_party given but {col} is empty")
            continue
        if not country:
            continue  # cannot read a national number without the country
        try:
            e164, lib_type = parse_phone(number_text, country, col)
        except FieldError as exc:
            fail(col, str(exc))
            continue
        if e164 in seen_numbers:
            fail(col, f"same number as phone_{seen_numbers[e164]}")
            continue
        seen_numbers[e164] = n
        if type_text and type_text not in PHONE_TYPES:
            fail(
                type_col,
                f"unknown phone type {type_text!r}; expected one of {', '.join(PHONE_TYPES)}",
            )
            continue
        phone_type = type_text or _TYPE_FROM_LIBRARY.get(lib_type, MOBILE)
        consent = False
        if consent_text:
            try:
                consent = parse_yes_no(consent_text, consent_col)
            except FieldError as exc:
                fail(consent_col, str(exc))
                continue
        if consent and not consent_ref:
            fail(ref_col, f"{consent_col} is yes but no evidence id ({ref_col}) is given")
            continue
        if consent_ref and not consent:
            fail(ref_col, f"evidence id given but {consent_col} is not yes")
            continue
        if consent_ref and len(consent_ref) > MAX_REF:
            fail(ref_col, f"{ref_col} is longer than {MAX_REF} characters")
            continue
        channels = DEFAULT_PHONE_CHANNELS
        if channels_text:
            try:
                channels = parse_phone_channels(channels_text, channels_col)
            except FieldError as exc:
                fail(channels_col, str(exc))
                continue
            if not consent:
                fail(channels_col, f"{channels_col} lists the channels the debtor authorised: "
                     f"{consent_col} must be yes, with its evidence id")  # fmt: skip
                continue
        try:
            third_party = parse_third_party(third_text, third_col)
        except FieldError as exc:
            fail(third_col, str(exc))
            continue
        if third_party and consent:
            fail(third_col, f"{third_col} is yes but {consent_col} is yes: the debtor's consent "
                 f"cannot stand on a number that reaches someone else (leave {consent_col} "
                 "empty)")  # fmt: skip
            continue
        phones.append(PhoneRecord(n, e164, phone_type, consent, consent_ref, channels,
                                  third_party))  # fmt: skip

    if errors:
        return errors
    custom = {k: val for k, val in v.items() if k not in KNOWN and val != ""}
    return AccountRecord(
        line=line, external_ref=ref, debtor_name=name, country=country, region=region,
        timezone=timezone, balance=balance, currency=currency, due_date=due, status=status,
        stage=stage, stage_explicit=stage_explicit, custom_fields=custom, phones=phones,
        address=address, latitude=latitude, longitude=longitude, email=email,
        email_consent=email_consent, email_consent_ref=email_ref,
        visit_authorisation_ref=visit_ref, protection=protection, protection_ref=protection_ref,
    )  # fmt: skip


def parse_phone_channels(text: str, column: str) -> str:
    """`call;sms;whatsapp` (or commas) -> the stored form, "call,sms,whatsapp"."""
    names = [part.strip().lower() for part in text.replace(",", ";").split(";")]
    if any(not name for name in names):
        raise FieldError(f"{column} {text!r} has an empty channel (write e.g. call;sms;whatsapp)")
    unknown = [name for name in names if name not in PHONE_CHANNELS]
    if unknown:
        raise FieldError(f"{column}: unknown channel(s) {', '.join(map(repr, unknown))}; "
                         f"a number's channels are {', '.join(PHONE_CHANNELS)}")  # fmt: skip
    return ",".join(c for c in PHONE_CHANNELS if c in names)


def _email(
    text: str, consent_text: str, ref_text: str, fail: Callable[[str, str], None]
) -> tuple[str | None, bool, str | None]:
    """The e-mail address, its consent and the consent's evidence id, checked together."""
    email = text or None
    if email is not None:
        if len(email) > MAX_EMAIL:
            fail("email", f"email is longer than {MAX_EMAIL} characters")
            email = None
        elif not is_email_address(email):
            fail("email", f"email {text!r} is not an e-mail address (e.g. nombre@dominio.mx)")
            email = None
    consent = False
    if consent_text:
        try:
            consent = parse_yes_no(consent_text, "email_consent")
        except FieldError as exc:
            fail("email_consent", str(exc))
            return email, False, None  # the rest depends on what consent says
    ref = ref_text or None
    if ref is not None and len(ref) > MAX_REF:
        fail("email_consent_ref", f"email_consent_ref is longer than {MAX_REF} characters")
    if not text and (consent_text or ref):
        fail("email", "email_consent/email_consent_ref given but email is empty")
    elif consent and not ref:
        fail(
            "email_consent_ref",
            "email_consent is yes but no evidence id (email_consent_ref) is given",
        )
    elif ref and not consent:
        fail("email_consent_ref", "evidence id given but email_consent is not yes")
    return email, consent, ref


def _coordinates(
    lat_text: str, lon_text: str, country: str, fail: Callable[[str, str], None]
) -> tuple[float | None, float | None]:
    """Both or neither; each a number in range; together a point of the country.
    Nothing is geocoded: an address without coordinates stays without them."""
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        missing = "latitude" if not lat_text else "longitude"
        fail(missing, f"{missing} is required when the other coordinate is given")
        return None, None
    lat = lon = None
    try:
        lat = parse_coordinate(lat_text, "latitude", 90)
    except CoordinateError as exc:
        fail("latitude", str(exc))
    try:
        lon = parse_coordinate(lon_text, "longitude", 180)
    except CoordinateError as exc:
        fail("longitude", str(exc))
    if lat is None or lon is None or not country:
        return None, None
    try:
        check_point(lat, lon, country)
    except CoordinateError as exc:
        fail("latitude", str(exc))
        return None, None
    return lat, lon


_ZONES: set[str] = set()


def _zones(loader: Any) -> set[str]:
    if not _ZONES:
        _ZONES.update(loader())
    return _ZONES
