"""Every whole-number setting has a range; a value outside it, or no whole number at
all, is refused at start with the setting's name and its range, however it was given
(environment, config file, code). Before, a negative retention purged everything at
once and a zero timeout refused every request."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from cobrador.ground import setting_bounds
from cobrador.ground.setting_bounds import BOUNDS, Bound
from cobrador.ground.settings import Settings, SettingsError
from selfservice.payment_links import MAX_LINK_HOURS

NAMES = sorted(BOUNDS)


def refused(name: str, raw: object, environ: bool = True, tmp_path: Path | None = None) -> str:
    """The message Settings.load gives for `raw` (from the environment, or a TOML file)."""
    with pytest.raises(SettingsError) as caught:
        if environ:
            Settings.load(environ={f"COBRADOR_{name.upper()}": str(raw)})
        else:
            assert tmp_path is not None
            path = tmp_path / "c.toml"
            path.write_text(f"[cobrador]\n{name} = {raw}\n")
            Settings.load(environ={}, config_file=path)
    message = str(caught.value)
    assert name in message and BOUNDS[name].describe() in message, message
    return message


def test_given_the_settings_then_every_whole_number_has_a_range_and_its_default_is_in_it() -> None:
    ints = {f.name for f in fields(Settings) if str(f.type).startswith("int")}
    assert ints == set(BOUNDS)
    defaults = Settings()
    for name, bound in BOUNDS.items():
        assert bound.allows(getattr(defaults, name)), name


def test_given_the_payment_link_range_then_it_is_the_links_own() -> None:
    assert setting_bounds.PAYMENT_LINK_HOURS_MAX == MAX_LINK_HOURS


@pytest.mark.parametrize("name", NAMES)
def test_given_a_negative_value_then_refused_with_the_name_and_range(name: str) -> None:
    assert "-1 is out of range" in refused(name, -1)


@pytest.mark.parametrize("name", NAMES)
def test_given_zero_then_refused_unless_it_means_something(name: str) -> None:
    bound = BOUNDS[name]
    if bound.zero:
        assert getattr(Settings.load(environ={f"COBRADOR_{name.upper()}": "0"}), name) == 0
        assert f"0 ({bound.zero})" in bound.describe()
    else:
        assert "0 is out of range" in refused(name, 0)


@pytest.mark.parametrize("name", NAMES)
def test_given_values_just_past_either_end_then_refused_and_the_ends_accepted(
    name: str,
) -> None:
    bound = BOUNDS[name]
    assert f"{bound.high + 1} is out of range" in refused(name, bound.high + 1)
    if bound.low > 1:
        assert f"{bound.low - 1} is out of range" in refused(name, bound.low - 1)
    for edge in (bound.low, bound.high):
        assert getattr(Settings.load(environ={f"COBRADOR_{name.upper()}": str(edge)}), name) == edge


@pytest.mark.parametrize("name", NAMES)
def test_given_a_huge_value_then_refused(name: str) -> None:
    assert "10000000000 is out of range" in refused(name, 10**10)
    # int() itself refuses a few thousand digits with an error of its own.
    assert "5000 digits is out of range" in refused(name, "9" * 5000)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("raw", ["abc", "", "2.5", "1e3", "0x10", "1_000", "８", "- 1", "10 s"])
def test_given_no_whole_number_in_the_environment_then_refused(name: str, raw: str) -> None:
    assert "is not a whole number" in refused(name, raw)


@pytest.mark.parametrize("raw", ["true", "2.5", "72.0", '"abc"', "[1]", "inf"])
def test_given_no_whole_number_in_the_config_file_then_refused(tmp_path: Path, raw: str) -> None:
    """TOML's true was read as 1 and 2.5 as 2."""
    assert "is not a whole number" in refused("payment_link_hours", raw, False, tmp_path)


def test_given_a_whole_number_as_text_then_read_with_spaces_and_sign() -> None:
    loaded = Settings.load(environ={"COBRADOR_AMI_PORT": " +05038 ", "COBRADOR_SMTP_PORT": "25"})
    assert (loaded.ami_port, loaded.smtp_port) == (5038, 25)


def test_given_a_value_out_of_range_in_code_then_refused_too() -> None:
    """Settings built in code (tests, the demo's overrides) pass the same check."""
    with pytest.raises(SettingsError, match=re.escape("use 1 to 3650 days")):
        Settings().with_overrides(unproven_reply_retention_days=-1)
    with pytest.raises(SettingsError, match="'payment_link_hours': '72' is not a whole number"):
        Settings(payment_link_hours="72")  # type: ignore[arg-type]
    # The embedded demo listens on ports the system picks.
    demo = Settings().with_overrides(fastagi_port=0, callbacks_port=0)
    assert (demo.fastagi_port, demo.callbacks_port) == (0, 0)


def test_given_a_bound_then_it_says_what_zero_means() -> None:
    assert Bound(60, 600, "seconds", "never").describe() == "0 (never) or 60 to 600 seconds"
    assert Bound(1, 65535, "").describe() == "1 to 65535"
    assert not Bound(1, 5, "x").allows(0) and Bound(1, 5, "x", "off").allows(0)


def test_given_a_setting_out_of_range_when_the_cli_starts_then_it_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cobrador.cli import main

    monkeypatch.setenv("COBRADOR_FIELD_POSITION_RETENTION_HOURS", "-72")
    assert main(["audit", "verify"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("cobrador: error: setting 'field_position_retention_hours': -72 is "
                           "out of range; use 1 to 8760 hours")  # fmt: skip
