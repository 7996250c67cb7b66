from pathlib import Path

import pytest

from cobrador.ground.settings import Settings, SettingsError


def test_given_no_environment_when_loaded_then_embedded_defaults() -> None:
    s = Settings.load(environ={})
    assert s.database_url is None and s.embedded_redis
    assert s.effective_database_url.startswith("sqlite:///")


def test_given_env_when_loaded_then_env_wins_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[cobrador]\nami_port = 6000\nconsole_port = 9000\n")
    s = Settings.load(
        environ={"COBRADOR_CONSOLE_PORT": "9100", "DATABASE_URL": "postgresql://x/y"},
        config_file=cfg,
    )
    assert s.ami_port == 6000
    assert s.console_port == 9100
    assert s.effective_database_url == "postgresql+psycopg://x/y"


def test_given_bad_values_when_loaded_then_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ami_port"):
        Settings.load(environ={"COBRADOR_AMI_PORT": "abc"})
    bad = tmp_path / "bad.toml"
    bad.write_text("nope = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load(environ={}, config_file=bad)
    unknown = tmp_path / "u.toml"
    unknown.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load(environ={}, config_file=unknown)
    with pytest.raises(SettingsError, match="does not exist"):
        Settings.load(environ={}, config_file=tmp_path / "missing.toml")


def test_given_wildcard_fastagi_listen_then_advertised_host_is_reachable_name() -> None:
    assert Settings(fastagi_host="127.0.0.1").fastagi_public_host == "127.0.0.1"
    assert Settings(fastagi_host="0.0.0.0").fastagi_public_host not in ("0.0.0.0", "")
    assert (
        Settings(fastagi_host="0.0.0.0", fastagi_advertise_host="dialer").fastagi_public_host
        == "dialer"
    )


def test_given_no_recordings_dir_then_it_is_under_the_data_dir() -> None:
    s = Settings.load(environ={"COBRADOR_DATA_DIR": "/srv/cob"})
    assert s.recordings_dir == Path("/srv/cob/recordings")
    assert Settings.load(environ={"COBRADOR_RECORDINGS_DIR": ""}).recordings_dir == Path(
        "cobrador-data/recordings"
    )
    moved = s.with_overrides(data_dir=Path("/other"))
    assert moved.recordings_dir == Path("/other/recordings")


def test_given_recordings_dir_in_env_then_it_wins() -> None:
    s = Settings.load(environ={"COBRADOR_RECORDINGS_DIR": "/var/spool/rec"})
    assert s.recordings_dir == Path("/var/spool/rec")
    assert s.with_overrides(data_dir=Path("/x")).recordings_dir == Path("/var/spool/rec")


def test_given_no_pbx_recordings_dir_then_asterisk_sees_the_same_directory() -> None:
    s = Settings.load(environ={"COBRADOR_RECORDINGS_DIR": "/var/spool/rec"})
    assert s.pbx_recordings_root == Path("/var/spool/rec")


def test_given_pbx_recordings_dir_then_asterisk_is_told_its_own_path() -> None:
    s = Settings.load(
        environ={
            "COBRADOR_RECORDINGS_DIR": "/chroot/var/spool/rec",
            "COBRADOR_PBX_RECORDINGS_DIR": "/var/spool/rec",
        }  # fmt: skip
    )
    assert s.pbx_recordings_root == Path("/var/spool/rec")
    assert s.recordings_dir == Path("/chroot/var/spool/rec")


def test_given_pbx_cel_file_in_env_then_the_dialer_reads_asterisks_record_there() -> None:
    s = Settings.load(environ={"COBRADOR_PBX_CEL_FILE": "/var/log/asterisk/cobrador-cel.csv"})
    assert s.pbx_cel_file == Path("/var/log/asterisk/cobrador-cel.csv")
    assert Settings.load(environ={"COBRADOR_PBX_CEL_FILE": ""}).pbx_cel_file is None


def test_given_pbx_name_in_env_or_file_then_the_dialers_name_their_asterisk_so(
    tmp_path: Path,
) -> None:
    assert Settings.load(environ={}).pbx_name == ""  # unset: the AMI address
    assert Settings.load(environ={"COBRADOR_PBX_NAME": "asterisk-1"}).pbx_name == "asterisk-1"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[cobrador]\npbx_name = "asterisk-2"\n')
    assert Settings.load(environ={}, config_file=cfg).pbx_name == "asterisk-2"
