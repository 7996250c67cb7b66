"""The dialer's recording rules that need no PBX: the campaign's mode and notice,
the path Asterisk is given, and waiting for MixMonitor to let go of a file."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from compliance.profile import PROFILES_DIR, load_profile_file
from dialer.recording import file_settled, pbx_path, recording_mode, recording_notice


@pytest.mark.parametrize(
    ("config", "mode"),
    [(None, "all"), ({}, "all"), ({"recording": "none"}, "none"),
     ({"recording": "on_demand"}, "on_demand"), ({"recording": "sometimes"}, "all")],
)  # fmt: skip
def test_given_campaign_config_when_mode_read_then_unknown_values_record_everything(
    config: dict[str, str] | None, mode: str
) -> None:
    assert recording_mode(config) == mode


@pytest.mark.parametrize(
    ("profile", "config", "notice"),
    [("script", None, "script"), ("script", {"recording_notice": "prompt"}, "prompt"),
     ("prompt", {"recording_notice": "script"}, "script"),
     ("prompt", {"recording_notice": "whisper"}, "prompt")],
)  # fmt: skip
def test_given_profile_default_when_campaign_chooses_then_its_choice_wins_if_valid(
    profile: str, config: dict[str, str] | None, notice: str
) -> None:
    assert recording_notice(profile, config) == notice


def test_given_shipped_profiles_then_latin_american_defaults_use_the_script() -> None:
    notices = {p.stem: load_profile_file(p).recording_notice for p in PROFILES_DIR.glob("*.toml")
               if p.stem != "regions"}  # fmt: skip
    assert notices == {"mx": "script", "mx-profeco": "script", "co": "script", "pe": "script",
                       "us": "prompt"}  # fmt: skip


def test_given_a_key_when_placed_for_asterisk_then_under_its_own_root() -> None:
    root = PurePosixPath("/var/spool/cobrador/recordings")
    assert (
        pbx_path(root, "2026/11/24/81234.wav")
        == "/var/spool/cobrador/recordings/2026/11/24/81234.wav"
    )


@pytest.mark.parametrize("root", ["relative/dir", "/var/rec,ordings", "/var/a|b", '/var/"x"'])
def test_given_a_root_asterisk_would_misread_when_placed_then_refused(root: str) -> None:
    with pytest.raises(ValueError, match="absolute"):
        pbx_path(PurePosixPath(root), "2026/11/24/1.wav")


async def test_given_no_file_when_settling_then_none(tmp_path: Path) -> None:
    assert await file_settled(tmp_path / "nothing.wav", polls=3, interval=0.0) is None


async def test_given_a_file_that_stopped_growing_when_settling_then_its_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "done.wav"
    path.write_bytes(b"x" * 100)
    assert await file_settled(path, polls=3, interval=0.0) == 100
