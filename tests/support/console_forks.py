"""The console as a child process forked from a server that imported it once.

A console started with `python -c ...` spent about 2.5 s of CPU importing itself
before it listened (5-10 s on the loaded CI machine), and the browser tiers start one
per test. A multiprocessing fork server imports the console's modules once per
session; each console is a fork of it, with the test's environment, its own
database and Redis, so tests stay as isolated as with a fresh interpreter.

The child's stdout and stderr go to a file: a pipe nobody reads while the test runs
fills at 64 KB, and the console then blocks in its next log line.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import sys
from datetime import datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path

# What the fork server imports before its first fork: what a console imports at
# start-up, and pytest (a child runs the parent's __main__ again: pytest's script).
PRELOAD = ["console.app", "console.commands", "cobrador.ground.settings", "store.db",
           "support.console_forks", "pytest"]  # fmt: skip

_context = multiprocessing.get_context("forkserver")


def start(port: int, env: dict[str, str], at: datetime | None, log: Path, cwd: Path) -> BaseProcess:
    """A console listening on 127.0.0.1:`port`, its environment `env` over this
    process's, its clock starting at `at` (None: the wall clock), its output to `log`,
    run in `cwd`."""
    multiprocessing.forkserver.set_forkserver_preload(PRELOAD)
    environ = {**os.environ, **env}  # the fork server's environment is from its start
    process = _context.Process(target=_serve, args=(port, environ, at, str(log), str(cwd)),
                               name=f"console-{port}", daemon=False)  # fmt: skip
    process.start()
    return process


def _serve(port: int, env: dict[str, str], at: datetime | None, log: str, cwd: str) -> None:
    """In the child: output to `log`, the test's environment, then the console."""
    import argparse
    import time

    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    import console.app
    from cobrador.ground.settings import Settings
    from console.commands import _console_run

    if at is not None:  # the console's clock starts at `at` and runs on
        t0, real_init = time.monotonic(), console.app.init_app

        def pinned_init(*args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs["clock"] = lambda: at + timedelta(seconds=time.monotonic() - t0)
            return real_init(*args, **kwargs)

        console.app.init_app = pinned_init  # type: ignore[assignment]
    code = _console_run(argparse.Namespace(host="127.0.0.1", port=port), Settings.load())
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
