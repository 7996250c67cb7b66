"""The dial loops' options built from the settings (dialer/service.py loop_options)."""

from __future__ import annotations

from cobrador.ground.settings import Settings
from dialer.service import loop_options


def test_given_a_pbx_name_then_the_loops_name_their_asterisk_by_it() -> None:
    opts = loop_options(Settings.load(environ={"COBRADOR_PBX_NAME": "asterisk-1"}), "d1", 4573)
    assert opts.pbx_name == "asterisk-1"
    assert (opts.owner, opts.agi_port) == ("d1", 4573)


def test_given_a_pbx_name_with_spaces_around_then_they_are_not_part_of_it() -> None:
    opts = loop_options(Settings.load(environ={"COBRADOR_PBX_NAME": " asterisk-1\n"}), "d1", 1)
    assert opts.pbx_name == "asterisk-1"


def test_given_no_or_a_blank_pbx_name_then_the_loops_use_the_ami_address() -> None:
    for environ in ({}, {"COBRADOR_PBX_NAME": ""}, {"COBRADOR_PBX_NAME": "   "}):
        assert loop_options(Settings.load(environ=environ), "d1", 1).pbx_name is None


def test_given_a_cel_file_then_the_loops_read_it() -> None:
    settings = Settings.load(environ={"COBRADOR_PBX_CEL_FILE": "/var/log/asterisk/cel.csv"})
    assert loop_options(settings, "d1", 1).pbx_cel_path == "/var/log/asterisk/cel.csv"
    assert loop_options(Settings.load(environ={}), "d1", 1).pbx_cel_path is None
