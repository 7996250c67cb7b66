"""pbxsim's dialplan table stays beside asterisk-conf/extensions.conf: every context
it plays is one Asterisk has; and its applications and the callers of FastAGI and
inbound calls use only the kernel's public API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pbxsim.dialplan import DIALPLAN
from pbxsim.kernel import Kernel

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_dialplan_table_then_every_context_is_in_extensions_conf() -> None:
    conf = (ROOT / "asterisk-conf" / "extensions.conf").read_text()
    contexts = set(re.findall(r"^\[([^\]]+)\]", conf, flags=re.M))
    assert set(DIALPLAN) <= contexts, set(DIALPLAN) - contexts


def test_given_pbxsim_modules_outside_the_kernel_then_no_private_kernel_member_is_used() -> None:
    private = {name for name in vars(Kernel) if name.startswith("_") and not name.startswith("__")}
    users = [ROOT / "pbxsim" / "agi_caller.py", ROOT / "pbxsim" / "inbound.py",
             ROOT / "pbxsim" / "originate.py", ROOT / "pbxsim" / "dialplan.py",
             *sorted((ROOT / "pbxsim" / "apps").glob("*.py"))]  # fmt: skip
    used = {
        (path.name, node.attr)
        for path in users
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in private
        and isinstance(node.value, ast.Name) and node.value.id == "pbx"
    }  # fmt: skip
    assert private and used == set()
