"""Asterisk's CEL and CDR read back (dialer/pbx_records.py). The sample is real:
tests/unit/dialer/data/cel_sample.csv was written by the chroot Asterisk 22 with
tests/integration/asterisk/conf/cel_custom.conf, one call per behaviour of the
real-floor carrier (sipp/carrier_floor.xml): 901220 a person told the
safe-harbor message (no dialer answered), 901221 an answering machine, 901222 a
person who hung up during detection, 901223 busy, 901224 503, 901225 no answer,
1 a person bridged to an agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer import pbx_records as pr

SAMPLE = Path(__file__).parent / "data" / "cel_sample.csv"


@pytest.fixture
def calls() -> dict[int, pr.PbxCall]:
    return pr.calls_from_cel(pr.read_records(SAMPLE, pr.CEL_FIELDS))


def test_given_real_cel_when_read_then_each_call_gets_the_outcome_asterisk_recorded(
    calls: dict[int, pr.PbxCall],
) -> None:
    results = {i: o.result for i, c in calls.items() if (o := pr.orphan_outcome(c)) is not None}
    assert results == {
        901220: "abandoned",
        901221: "machine",
        901222: "early_hangup",
        901223: "busy",
        901224: "failed",
        901225: "no_answer",
        1: "contact",
    }


def test_given_real_cel_when_read_then_times_and_causes_are_asterisks(
    calls: dict[int, pr.PbxCall],
) -> None:
    contact = pr.orphan_outcome(calls[1])
    assert contact is not None
    assert (contact.answered_at, contact.bridged_at, contact.ended_at) == (
        1796450169.165, 1796450170.657, 1796450175.178,
    )  # fmt: skip
    busy = pr.orphan_outcome(calls[901223])
    assert busy is not None and busy.cause == 17 and busy.answered_at is None
    assert busy.ended_at == 1796450122.503
    assert calls[901225].cause == 19
    # The trunk channel's creation: when the debtor's phone was called.
    assert calls[1].trunk_started_at == 1796450168.152
    assert calls[901222].far_end_hung_up_first and not calls[901221].far_end_hung_up_first


def test_given_call_not_ended_in_asterisk_when_outcome_asked_then_none() -> None:
    rows = pr.parse_records(
        ['"CHAN_START","10.5","Local/1@x;1","cobrador-7","cobrador-7","","","","","",""',
         '"ANSWER","11.0","Local/1@x;1","cobrador-7","cobrador-7","AppDial2","","","","",""'],
        pr.CEL_FIELDS,
    )  # fmt: skip
    call = pr.calls_from_cel(rows)[7]
    assert call.answered_at == 11.0 and pr.orphan_outcome(call) is None


def test_given_same_attempt_id_called_again_when_read_then_the_last_call_wins() -> None:
    first = SAMPLE.read_text().splitlines()
    again = [
        '"CHAN_START","1796460000.0","Local/1@x;1","cobrador-1","cobrador-1","","","","","",""',
        '"HANGUP","1796460003.0","Local/1@x;1","cobrador-1","cobrador-1","AppDial2","","","","",'
        '"{""hangupcause"":17,""hangupsource"":"""",""dialstatus"":""""}"',
    ]
    call = pr.calls_from_cel(pr.parse_records(first + again, pr.CEL_FIELDS))[1]
    outcome = pr.orphan_outcome(call)
    assert outcome is not None and (outcome.result, outcome.ended_at) == ("busy", 1796460003.0)


@pytest.mark.parametrize(
    "line",
    [
        "",  # empty
        '"HANGUP","1.0"',  # too few fields (half-written)
        '"HANGUP","x","Local/1@x;1","cobrador-9","cobrador-9","","","","","","{}"',  # bad time
        '"HANGUP","1.0","Local/1@x;1","other-9","other-9","","","","","","{}"',  # not ours
        '"HANGUP","1.0","Local/1@x;1","cobrador-x","cobrador-x","","","","","","not json"',
    ],
)
def test_given_bad_cel_line_when_read_then_no_call_is_made_up(line: str) -> None:
    calls = pr.calls_from_cel(pr.parse_records([line], pr.CEL_FIELDS))
    assert all(pr.orphan_outcome(c) is None or c.ended_at is None for c in calls.values())
    assert set(calls) <= {9}


def test_given_hangup_with_bad_extra_when_read_then_cause_unknown_and_no_answer() -> None:
    rows = pr.parse_records(
        ['"HANGUP","5.0","Local/1@x;1","cobrador-9","cobrador-9","","","","","","not json"'],
        pr.CEL_FIELDS,
    )
    outcome = pr.orphan_outcome(pr.calls_from_cel(rows)[9])
    assert outcome is not None and (outcome.result, outcome.cause) == ("no_answer", None)


def test_given_missing_file_when_read_then_no_rows(tmp_path: Path) -> None:
    assert pr.read_records(tmp_path / "none.csv", pr.CEL_FIELDS) == []


def test_given_file_larger_than_limit_when_read_then_only_whole_lines_of_the_tail(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cel.csv"
    lines = SAMPLE.read_text().splitlines()
    path.write_text("\n".join(lines) + "\n")
    tail = len(lines[-1]) + len(lines[-2]) + 10  # the last two lines and part of one
    rows = pr.read_records(path, pr.CEL_FIELDS, limit=tail)
    assert [r["eventtype"] for r in rows] == ["CHAN_END", "LINKEDID_END"]


def test_given_start_offset_when_read_then_earlier_records_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "cel.csv"
    text = SAMPLE.read_text()
    path.write_text(text)
    assert pr.read_records(path, pr.CEL_FIELDS, start=len(text.encode())) == []


def test_given_cdr_rows_when_read_then_the_dialer_channel_record_says_answered() -> None:
    rows = pr.parse_records(
        ['"cobrador-5","cobrador-5","Local/1@x;1","","ANSWERED","10.0","11.0","16.0","5","ConfBridge",""',
         '"cobrador-5","cobrador-5","Local/1@x;1","","ANSWERED","16.0","16.0","17.0","1","Hangup",""',
         '"cobrador-6","cobrador-6","Local/2@x;1","","BUSY","10.0","0.000000","10.1","0","AppDial2",""'],
        pr.CDR_FIELDS,
    )  # fmt: skip
    assert pr.cdr_outcome(rows, 5) == pr.CdrOutcome("ANSWERED", True, 10.0, 17.0)
    assert pr.cdr_outcome(rows, 6) == pr.CdrOutcome("BUSY", False, 10.0, 10.1)
    assert pr.cdr_outcome(rows, 7) is None


@pytest.mark.parametrize(
    ("linkedid", "expected"),
    [("cobrador-12", 12), ("cobrador-", None), ("cobrador-agent-3", None), ("x-1", None),
     ("cobrador-1;2", None)],
)  # fmt: skip
def test_attempt_of_linkedid(linkedid: str, expected: int | None) -> None:
    assert pr.attempt_of(linkedid) == expected


@pytest.mark.parametrize(
    "extra",
    ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "{" + " " * 70_000 + "}",
     '{"hangupcause":' + "9" * 5000 + "}"],
)  # fmt: skip
def test_given_hostile_extra_when_read_then_empty_object_not_an_error(extra: str) -> None:
    assert pr.json_object(extra) == {}


def test_given_brackets_inside_strings_when_read_then_they_are_not_nesting() -> None:
    text = '{"hangupsource":"' + "[{" * 100 + '\\"' + '"}'
    assert pr.json_object(text) == {"hangupsource": "[{" * 100 + '"'}


def test_given_hangup_with_deeply_nested_extra_when_read_then_cause_unknown() -> None:
    extra = '"' + "[" * 100_000 + '"'
    rows = pr.parse_records(
        [f'"HANGUP","5.0","Local/1@x;1","cobrador-9","cobrador-9","","","","","",{extra}'],
        pr.CEL_FIELDS,
    )
    outcome = pr.orphan_outcome(pr.calls_from_cel(rows)[9])
    assert outcome is not None and (outcome.result, outcome.cause) == ("no_answer", None)


@pytest.mark.parametrize("cause", ['"²"', '"٣"', '"' + "9" * 50 + '"', "true", "-3", "1.5"])
def test_given_hangup_cause_not_a_small_ascii_number_when_read_then_unknown(cause: str) -> None:
    extra = '"{""hangupcause"":' + cause.replace('"', '""') + '}"'
    rows = pr.parse_records(
        [f'"HANGUP","5.0","Local/1@x;1","cobrador-9","cobrador-9","","","","","",{extra}'],
        pr.CEL_FIELDS,
    )
    assert pr.calls_from_cel(rows)[9].cause is None


@pytest.mark.parametrize("stamp", ["inf", "nan", "1e300", "-1", "253402300800"])
def test_given_time_out_of_datetime_range_when_read_then_no_time(stamp: str) -> None:
    rows = pr.parse_records(
        [f'"HANGUP","{stamp}","Local/1@x;1","cobrador-9","cobrador-9","","","","","","{{}}"'],
        pr.CEL_FIELDS,
    )
    assert pr.calls_from_cel(rows)[9].ended_at is None


@pytest.mark.parametrize("linkedid", ["cobrador-²", "cobrador-٣", "cobrador-" + "9" * 5000])
def test_given_linkedid_with_odd_digits_when_read_then_not_ours(linkedid: str) -> None:
    assert pr.attempt_of(linkedid) is None
