"""The imgfind command line: parse options, call the Index API, render, map errors to exits.

Results go to stdout; progress, warnings and summaries go to stderr. Exit codes: 0 success
(whether or not anything matched), 1 an error the user can fix (one line, ``Error: ...``),
2 a usage error.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import wraps
from typing import Any, TypeVar

import click

from ._version import __version__
from .crawl import CrawlOptions
from .errors import ImgfindError
from .index import Index, Settings
from .model import DEFAULT_PRESET, PRESETS, IndexStats, Rule
from .report import FORMATS, render_groups, render_queries

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def default_db() -> str:
    """The per-user data directory's index (XDG on Linux), created on first use."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return os.path.join(base, "imgfind", "index.db")
    return os.path.join(click.get_app_dir("imgfind"), "index.db")


class Context:
    """What the group options decide, handed to every command."""

    def __init__(self, db: str, quiet: bool, verbose: bool):
        self.db, self.quiet, self.verbose = db, quiet, verbose

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def open(self, settings: Settings | None = None, *, readonly: bool = False) -> Index:
        if readonly and not os.path.exists(self.db):
            raise ImgfindError(f"no index at {self.db}; run 'imgfind index DIR' first")
        return Index.open(self.db, settings, readonly=readonly)


pass_ctx = click.make_pass_decorator(Context)


def user_errors(fn: F) -> F:
    """Turn imgfind's own exceptions into Click's one-line 'Error: ...' with exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImgfindError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH", envvar="IMGFIND_DB", default=default_db, show_default="per-user data dir",
              help="Index database file (env IMGFIND_DB).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="List unreadable files and warnings.")
@click.version_option(__version__, "--version", prog_name="imgfind")
@click.pass_context
def cli(ctx: click.Context, db: str, quiet: bool, verbose: bool) -> None:
    """Reverse image search and near-duplicate finding for your own disk.

    \b
    Example:
        imgfind index ~/Photos
        imgfind query photo.jpg
        imgfind dedupe --threshold 6
    """
    ctx.obj = Context(db, quiet, verbose)


def crawl_options(fn: F) -> F:
    for decorator in reversed((
        click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
                     help="Skip files and folders whose name or path matches (repeatable)."),
        click.option("--hidden", is_flag=True, help="Include hidden files and folders."),
        click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links."),
        click.option("-j", "--jobs", type=click.IntRange(1, 512), default=None,
                     help="Worker processes [default: all cores]."),
    )):
        fn = decorator(fn)
    return fn


def match_options(fn: F) -> F:
    for decorator in reversed((
        click.option("-t", "--threshold", type=click.IntRange(0, 64), default=None,
                     help="Plain pHash Hamming distance (0-64), no verification step."),
        click.option("-s", "--similarity", type=click.Choice(sorted(PRESETS)), default=None,
                     help=f"Calibrated decision preset [default: {DEFAULT_PRESET}]."),
        click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text",
                     show_default=True, help="Output format."),
    )):
        fn = decorator(fn)
    return fn


def make_rule(threshold: int | None, similarity: str | None) -> tuple[Rule, str | None]:
    """--threshold alone is a plain pHash rule; a preset verifies (with --threshold if given)."""
    if threshold is not None and similarity is None:
        return Rule(threshold, None), None
    preset = similarity or DEFAULT_PRESET
    rule = PRESETS[preset]
    if threshold is not None:
        rule = Rule(threshold, rule.min_similarity, rule.min_window, preset)
    return rule, preset


def _settings(exclude: Sequence[str], hidden: bool, follow_symlinks: bool, jobs: int | None) -> Settings:
    return Settings(jobs=jobs, crawl=CrawlOptions(tuple(exclude), hidden, follow_symlinks))


#: C0 controls and DEL shown escaped, so that one problem is one line whatever the name.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def one_line(text: str) -> str:
    return text.translate(_ESCAPES)


def _run_index(obj: Context, idx: Index, paths: Sequence[str]) -> IndexStats:
    bar = None
    if not obj.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="img", desc="indexing", file=sys.stderr, leave=False)

    def on_total(n: int) -> None:
        if bar is not None:
            bar.total = n
            bar.refresh()

    try:
        stats = idx.update(paths, on_total=on_total, on_progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    if obj.verbose:
        for path, reason in stats.problems:
            click.echo(f"unreadable: {one_line(path)}: {reason}", err=True)
        for warning in stats.warnings:
            click.echo(f"warning: {one_line(warning)}", err=True)
    hint = " (-v to list)" if (stats.unreadable or stats.warnings) and not obj.verbose else ""
    obj.say(f"indexed: {stats.new} new, {stats.changed} changed, {stats.unchanged} unchanged, "
            f"{stats.removed} removed, {stats.unreadable} unreadable"
            + (f", {len(stats.warnings)} warnings" if stats.warnings else "") + hint)
    return stats


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@crawl_options
@pass_ctx
@user_errors
def index_cmd(obj: Context, paths: tuple[str, ...], exclude: tuple[str, ...], hidden: bool,
              follow_symlinks: bool, jobs: int | None) -> None:
    """Fingerprint the images under PATHS into the index (incremental).

    Unchanged files are skipped, changed ones re-read, vanished ones dropped.

    \b
    Example:
        imgfind index ~/Photos ~/Downloads --exclude '*.tmp'
    """
    with obj.open(_settings(exclude, hidden, follow_symlinks, jobs)) as idx:
        _run_index(obj, idx, paths)


@cli.command("query")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@match_options
@click.option("-k", "--limit", type=click.IntRange(1), default=None, help="At most K matches per image.")
@pass_ctx
@user_errors
def query_cmd(obj: Context, images: tuple[str, ...], threshold: int | None, similarity: str | None,
              fmt: str, limit: int | None) -> None:
    """Reverse image search: list every indexed copy of IMAGES, nearest first.

    \b
    Example:
        imgfind query photo.jpg --limit 10 --format json
    """
    rule, preset = make_rule(threshold, similarity)
    with obj.open(readonly=True) as idx:
        results = idx.query_many(images, rule, limit=limit)
    render_queries(results, fmt, sys.stdout, rule, preset)


@cli.command("dedupe")
@click.argument("paths", nargs=-1, type=click.Path())
@match_options
@crawl_options
@pass_ctx
@user_errors
def dedupe_cmd(obj: Context, paths: tuple[str, ...], threshold: int | None, similarity: str | None,
               fmt: str, exclude: tuple[str, ...], hidden: bool, follow_symlinks: bool,
               jobs: int | None) -> None:
    """Print groups of duplicates and near-duplicates (read-only: touches no file).

    With PATHS, index them first (incrementally) and group only the files under them;
    without, group the whole index.

    \b
    Example:
        imgfind dedupe ~/Downloads
        imgfind dedupe --threshold 6 --format paths
    """
    rule, preset = make_rule(threshold, similarity)
    with _match_progress(obj) as on_progress:
        if paths:
            with obj.open(_settings(exclude, hidden, follow_symlinks, jobs)) as idx:
                _run_index(obj, idx, paths)
                groups = idx.groups(rule, under=paths, on_progress=on_progress)
        else:
            with obj.open(readonly=True) as idx:
                groups = idx.groups(rule, on_progress=on_progress)
    render_groups(groups, fmt, sys.stdout, rule, preset)


@contextlib.contextmanager
def _match_progress(obj: Context) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr for the search and verification stages (a terminal only)."""
    if obj.quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            unit = "files" if stage == "searching" else "pairs"
            bars[stage] = tqdm(total=total, unit=unit, desc=stage, file=sys.stderr, leave=False)
        bar = bars[stage]
        bar.update(done - bar.n)

    try:
        yield on_progress
    finally:
        for bar in bars.values():
            bar.close()


@cli.command("info")
@click.argument("image", type=click.Path())
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@user_errors
def info_cmd(image: str, fmt: str) -> None:
    """Show an image's format, size, fingerprints and main EXIF fields.

    \b
    Example:
        imgfind info photo.jpg
    """
    from .info import describe

    facts = describe(image)
    if fmt == "json":
        click.echo(json.dumps(facts, indent=1, ensure_ascii=True))
        return
    for key, value in facts.items():
        if isinstance(value, dict):
            for k, v in value.items():
                click.echo(f"{key + '.' + k:<18} {v}")
        else:
            click.echo(f"{key:<18} {value}")


@cli.command("status")
@pass_ctx
@user_errors
def status_cmd(obj: Context) -> None:
    """Show where the index is and what it holds; -v lists unreadable files.

    \b
    Example:
        imgfind status
    """
    with obj.open(readonly=True) as idx:
        counts = idx.store.counts()
        click.echo(f"index:         {os.path.abspath(obj.db)}")
        click.echo(f"files:         {counts['files']}")
        click.echo(f"fingerprinted: {counts['fingerprinted']}")
        click.echo(f"unreadable:    {counts['unreadable']}")
        if obj.verbose:
            for path, reason in idx.problems():
                click.echo(f"  {path}: {reason}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: names that are not UTF-8 are written back as their own bytes."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    cli.main(args=list(argv) if argv is not None else None, prog_name="imgfind")


from . import cli_act  # noqa: E402,F401  apply, undo, ignore, report; dedupe's --plan/--keep/...
