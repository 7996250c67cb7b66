"""Errors a person can fix, shared by every command: the CLI prints them without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix: printed without a traceback, exit status 2."""

    exit_code = 2
