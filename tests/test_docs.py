"""The docs stay true: every command has help and is in the README, README examples run."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgfind.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SHOWN_ROOT = "/home/me/imgfind"  # where the README pretends the checkout lives


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_and_is_documented(name):
    command = cli.commands[name]
    assert command.help and "Example:" in command.help
    assert f"### `imgfind {name}" in README


def _normalise(text: str) -> list[list[str]]:
    """Blocks of lines, each block sorted: file order inside a group may follow mtimes."""
    text = text.replace(str(Path.cwd()), SHOWN_ROOT).replace(str(ROOT), SHOWN_ROOT)
    # Local times with their UTC offset: the offset is the machine's, the shape is checked.
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", "<mtime>", text)
    blocks = [[line.rstrip() for line in b.splitlines() if line.strip()]
              for b in re.split(r"\n\s*\n", text.strip())]
    return sorted(sorted(b) for b in blocks)


def _console_examples():
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        first, *output = block.strip("\n").split("\n")
        if first.startswith("$ imgfind ") and "examples/" in first:
            yield first[2:], "\n".join(output)


@pytest.mark.parametrize("command,expected", list(_console_examples()),
                         ids=[c for c, _ in _console_examples()])
def test_readme_console_examples_are_true(tmp_path, monkeypatch, command, expected):
    # A copy with one modification time for every file, as a fresh checkout has: the likely
    # original is judged partly by age, so the output must not depend on how files were made.
    photos = tmp_path / "examples" / "photos"
    shutil.copytree(ROOT / "examples" / "photos", photos)
    shutil.copytree(ROOT / "examples" / "partial", tmp_path / "examples" / "partial")
    for p in [*photos.iterdir(), *(tmp_path / "examples" / "partial").iterdir()]:
        os.utime(p, (1_700_000_000, 1_700_000_000))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    db = str(tmp_path / "readme.db")
    runner.invoke(cli, ["--db", db, "-q", "index", "examples/photos"], catch_exceptions=False)
    args = shlex.split(command)[1:]
    result = runner.invoke(cli, ["--db", db, "-q", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert _normalise(result.stdout) == _normalise(expected)


def test_readme_python_api_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    code = code.replace("/tmp/imgfind-readme.db", str(tmp_path / "api.db"))
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "nuthatch" in out


def test_install_hints_name_the_library_not_the_pypi_imgfind():
    """"imgfind" on PyPI is an unrelated project: no hint, help text or doc says
    `pip install imgfind[extra]`; the README says to install extras from the checkout."""
    from imgfind.errors import extra_hint

    texts = {p: p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                                         *(ROOT / "imgfind").rglob("*.py")]}
    bad = [f"{p.name}: {m.group(0)}" for p, t in texts.items()
           for m in re.finditer(r"imgfind\[(?!\.\.\.)[a-z,]+\]", t)]
    assert bad == []
    assert 'pip install ".[heic,raw,jxl]"' in README and "unrelated project" in README
    assert extra_hint("pillow-heif", "heic") == "pip install pillow-heif (imgfind's 'heic' extra)"
