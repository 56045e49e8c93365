"""Helpers for the issue-11 fault tests (tests/test_faults_*.py).

Only structure-independent seams are used: the ``imgfind`` command line (Click's runner on
``imgfind.cli.cli``, or a real ``python -m imgfind`` subprocess) and files on disk. Nothing
here imports a private name of the package, so these tests survive the issue-9 restructure.
Pictures are generated with Pillow; there are no binary fixtures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

from click.testing import CliRunner
from helpers import make_image

from imgfind.cli import cli

#: Raw C0 controls (but newline) and DEL: none may reach a terminal from the text formats.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")

#: Words a result may use to mark a file that is not on disk now.
ABSENT_WORDS = ("missing", "gone", "deleted", "unavailable", "not found", "offline")


#: A seeded, photo-like picture (the suite's one picture maker, tests/helpers.py).
photo = make_image


# ----------------------------------------------------------------------------- running
def cli_run(*args: str, env: dict[str, str] | None = None):
    """Run the CLI in-process; exceptions are caught (a traceback is a test failure, not a crash)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=True, env=env)


def no_crash(result) -> None:
    """The run ended by Click's own exits (0, 1, 2), never by an uncaught exception."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"uncaught {type(exc).__name__}: {exc}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    assert "Traceback" not in result.stdout + result.stderr


def ok(result) -> None:
    no_crash(result)
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"


def one_error_line(exit_code: int, stderr: str) -> str:
    """Exit 1 and exactly one non-empty stderr line, ``Error: ...``; returns that line."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_code == 1, f"exit {exit_code}, stderr: {stderr!r}"
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


#: Seconds after which a run of the CLI counts as hung. A hang never ends; a Python start and
#: imgfind's imports took over 10 s on the shared 2-core machine at load 11, so nothing
#: shorter than minutes tells the two apart.
HANG_SECONDS = 180


def sub_run(*args: str | bytes, timeout: float = HANG_SECONDS, env: dict[str, str] | None = None,
            prefix: list[str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m imgfind ARGS`` for real; bytes out, a hang is a TimeoutExpired."""
    return subprocess.run([*(prefix or []), sys.executable, "-m", "imgfind", *args],
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, **kwargs)


def as_nobody() -> list[str]:
    """A command prefix that runs as uid/gid nobody when we are root (root reads mode 000);
    empty for a normal user, for whom chmod works as is."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        import pytest

        pytest.skip("running as root without setpriv: cannot drop to an unprivileged user, "
                    "and root reads files of mode 000")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------------------- reading output
def json_doc(result) -> dict:
    ok(result)
    return json.loads(result.stdout)


def groups_of(doc: dict) -> list[list[dict]]:
    return [g["files"] for g in doc["groups"]]


def group_names(doc: dict) -> list[list[str]]:
    return sorted(sorted(os.path.basename(f["path"]) for f in g["files"]) for g in doc["groups"])


def status_count(stdout: str, key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+)\s*$", stdout, re.M)
    assert m, f"no '{key}:' line in status output:\n{stdout}"
    return int(m.group(1))


def marked_absent(entry: dict) -> bool:
    """A JSON file entry that says the file is not on disk now (any reasonable spelling)."""
    if entry.get("present") is False or entry.get("exists") is False:
        return True
    if entry.get("available") is False or entry.get("missing") is True:
        return True
    for key in ("state", "status", "availability"):
        value = str(entry.get(key, "")).lower()
        if any(w in value for w in ABSENT_WORDS):
            return True
    return False
