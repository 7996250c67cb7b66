"""Recording storage keys: date partitions, attempt ids, nothing else gets through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from store.recordings.retention import DEFAULT_RETENTION_DAYS, retention_days, retention_until
from store.recordings.storage import BadKey, DirectoryStorage, attempt_of, check_key, key_for

T = datetime(2026, 11, 24, 23, 30, tzinfo=timezone(timedelta(hours=-6)))  # 05:30 UTC next day


def test_given_a_local_start_when_keyed_then_the_utc_date_partitions_it() -> None:
    assert key_for(42, T) == "2026/11/25/42.wav"
    assert key_for(42, T, ".GSM") == "2026/11/25/42.gsm"
    assert attempt_of("2026/11/25/42.wav") == 42


@pytest.mark.parametrize(
    ("attempt_id", "started_at", "ext"),
    [(0, T, "wav"), (-3, T, "wav"), (1, datetime(2026, 1, 1), "wav"), (1, T, "w/v"),
     (1, T, "../x"), (1, T, ""), (1, T, "waaaaaaaav")],
)  # fmt: skip
def test_given_bad_parts_when_keyed_then_value_error(
    attempt_id: int, started_at: datetime, ext: str
) -> None:
    with pytest.raises(ValueError):
        key_for(attempt_id, started_at, ext)


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "2026/11/25/../../../etc/passwd",
        "/2026/11/25/42.wav",
        "2026/11/25/42.wav/",
        "2026/11/25/042.wav",
        "2026/11/25/42",
        "2026/11/25/42.wav\x00.txt",
        "2026\\11\\25\\42.wav",
        "２０２６/11/25/42.wav",  # full-width digits
        "2026/11/25/+5215512345678.wav",  # a phone number is never a key
        "",
    ],
)
def test_given_a_key_of_another_shape_then_bad_key(key: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadKey):
        check_key(key)
    with pytest.raises(BadKey):
        DirectoryStorage(tmp_path).path(key)


def test_given_storage_when_reading_ranges_then_exact_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = DirectoryStorage(tmp_path)
    key = key_for(7, T)
    storage.ensure_dir(key).write_bytes(bytes(range(256)) * 1000)
    assert storage.size(key) == 256_000
    assert b"".join(storage.iter_range(key, 10, 19)) == bytes(range(10, 20))
    assert len(b"".join(storage.iter_range(key, 0, 255_999, chunk=4096))) == 256_000
    assert b"".join(storage.iter_range(key, 255_990, 300_000)) == bytes(range(246, 256))
    with pytest.raises(ValueError):
        list(storage.iter_range(key, 5, 4))
    assert storage.delete(key) and not storage.exists(key) and storage.size(key) is None
    assert storage.delete(key) is False


@pytest.mark.parametrize(
    ("config", "days"),
    [(None, DEFAULT_RETENTION_DAYS), ({}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": 30}, 30), ({"recording_retention_days": "90"}, 90),
     ({"recording_retention_days": 0}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": -5}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": "un año"}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": 12.5}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": True}, DEFAULT_RETENTION_DAYS),
     ({"recording_retention_days": 10**9}, DEFAULT_RETENTION_DAYS)],
)  # fmt: skip
def test_given_campaign_config_then_retention_days_or_the_default(config, days) -> None:  # type: ignore[no-untyped-def]
    assert retention_days(config) == days


def test_given_an_end_then_retention_counts_days_from_it() -> None:
    end = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert retention_until(end, {"recording_retention_days": 30}) == datetime(
        2026, 3, 2, 12, tzinfo=UTC
    )
