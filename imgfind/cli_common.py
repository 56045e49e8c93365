"""What every imgfind command shares: the Context, option decorators, error mapping, the
rule and settings built from options, and the progress bars. Commands live in cli.py (finding)
and cli_act.py (acting); both import from here, so neither imports the other's module back.

Imports in the command-line modules (cli*.py): at the top, only click, the standard library
and imgfind's modules that import no other third-party package (errors, model, keep, plan,
report); the library that does the work (the index, the matching, numpy, Pillow, OpenCV) is
imported inside the command that uses it. So ``imgfind --help`` and ``imgfind CMD --help``
start without them, and each command loads what it uses only (tests/test_startup.py).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import ImgfindError
from .model import DEFAULT_PRESET, PRESETS, IndexStats, Rule
from .report import FORMATS, one_line, plural

if TYPE_CHECKING:
    from .index import Index, Settings

F = TypeVar("F", bound=Callable[..., Any])


def default_db() -> str:
    """The index in the per-user data folder, created on first use: on Linux
    ``$XDG_DATA_HOME/imgfind/index.db`` (``~/.local/share/imgfind/index.db``), on macOS
    ``~/Library/Application Support/imgfind``, on Windows ``%LOCALAPPDATA%\\imgfind``."""
    from platformdirs import user_data_dir

    return os.path.join(user_data_dir("imgfind", appauthor=False), "index.db")


class Context:
    """What the group options decide, handed to every command."""

    def __init__(self, db: str, quiet: bool, verbose: bool):
        self.db, self.quiet, self.verbose = db, quiet, verbose

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def open(self, settings: Settings | None = None, *, readonly: bool = False) -> Index:
        # "" and ":memory:" name no file: the store's own check says why (store._check_db_path).
        if readonly and self.db not in ("", ":memory:") and not os.path.exists(self.db):
            raise ImgfindError(f"no index at {self.db}; run 'imgfind index DIR' first")
        if not readonly:
            self.check_db_folder()
        from .index import Index

        return Index.open(self.db, settings, readonly=readonly)


    def check_db_folder(self) -> None:
        """Refuse to create the index (or what lives beside it) in a folder that does not
        exist, unless it is the default index in the per-user data folder, which is created on
        first use: a typo in an explicit --db or IMGFIND_DB must not make folders.

        Raises:
            ImgfindError: the index does not exist, and neither does its folder.
        """
        if os.path.lexists(self.db):
            return
        folder = os.path.dirname(os.path.abspath(self.db))
        if os.path.lexists(folder) or os.path.abspath(self.db) == os.path.abspath(default_db()):
            return  # a file where the folder should be: the store says so
        raise ImgfindError(f"--db {self.db}: the folder {folder} does not exist; create it "
                           "first (imgfind creates only the folder of its default index)")


pass_ctx = click.make_pass_decorator(Context)


def _override(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """An option callback that sets *attr* of the group's Context when given after the command."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            obj = ctx.find_object(Context)
            if obj is not None:
                setattr(obj, attr, value)

    return callback


def group_options(fn: F) -> F:
    """Accept --db, -q and -v after the command too (``imgfind status -v``); they win over the
    same options given before it."""
    for decorator in reversed((
        click.option("--db", metavar="PATH", default=None, expose_value=False,
                     callback=_override("db"), help="Index database file (as before the command)."),
        click.option("-q", "--quiet", is_flag=True, default=False, expose_value=False,
                     callback=_override("quiet"), help="No progress or summary on stderr."),
        click.option("-v", "--verbose", is_flag=True, default=False, expose_value=False,
                     callback=_override("verbose"), help="List unreadable files and warnings."),
    )):
        fn = decorator(fn)
    return fn


#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: The one line printed after Ctrl-C: the index commits in batches and the action journal
#: records each step, so nothing done before the interrupt is lost.
INTERRUPTED = ("interrupted: what was done so far is kept (files indexed, actions journaled);"
               " run the command again to go on")


#: Exit status when the reader of stdout went away (``imgfind dedupe | head -1``): the reader
#: took what it wanted. Whether a write meets the closed pipe depends on how much output fits
#: in the pipe's buffer before the reader closes it, so any other status would depend on
#: timing and output size; 0 makes ``CMD | head`` the same for every command and run.
EXIT_CLOSED_PIPE = 0


def _stdout_to_devnull() -> None:
    """Point stdout's file descriptor at /dev/null, so that the interpreter's last flush of
    what is still buffered does not fail again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (a test runner's stream)
        pass


class Group(click.Group):
    """imgfind's command group: a closed stdout pipe ends any command quietly with
    EXIT_CLOSED_PIPE (Click's own handling exits 1, but only when the write happens to fail
    inside the command, which depends on the output's size)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            rv = super().invoke(ctx)
            sys.stdout.flush()  # meet a closed pipe here, not in the interpreter's exit
            return rv
        except BrokenPipeError:
            _stdout_to_devnull()
            ctx.exit(EXIT_CLOSED_PIPE)


def user_errors(fn: F) -> F:
    """Turn imgfind's own exceptions into Click's one-line 'Error: ...' with exit 1, and
    Ctrl-C into the one line INTERRUPTED with exit 130 (not Click's "Aborted!", exit 1)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImgfindError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            click.echo(f"\n{INTERRUPTED}", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def crawl_options(fn: F) -> F:
    for decorator in reversed((
        click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
                     help="Skip files and folders whose name or path matches (repeatable)."),
        click.option("--hidden", is_flag=True, help="Include hidden files and folders."),
        click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links."),
        click.option("-j", "--jobs", type=click.IntRange(1, 512), default=None,
                     help="Worker processes [default: the cores this process may use: CPU "
                          "affinity and cgroup CPU quota count]."),
    )):
        fn = decorator(fn)
    return fn


def match_options(formats: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """--threshold, --similarity, --format (one of *formats*) and -0."""
    return lambda fn: _match_options(fn, formats)


def _match_options(fn: F, formats: Sequence[str]) -> F:
    for decorator in reversed((
        click.option("-t", "--threshold", type=click.IntRange(0, 64), default=None,
                     help="Plain pHash Hamming distance (0-64), no verification step."),
        click.option("-s", "--similarity", type=click.Choice(sorted(PRESETS)), default=None,
                     help=f"Calibrated decision preset [default: {DEFAULT_PRESET}]."),
        click.option("-f", "--format", "fmt", type=click.Choice(formats), default=None,
                     help="Output format [default: text; paths with -0]."),
        click.option("-0", "--null", is_flag=True,
                     help="With paths: end every path with NUL, not a newline (xargs -0)."),
    )):
        fn = decorator(fn)
    return fn


def output_format(fmt: str | None, null: bool) -> str:
    """-0 alone means NUL-separated paths; with another format it is a usage error."""
    if null and fmt not in (None, "paths"):
        raise click.UsageError("-0/--null goes with --format paths")
    return fmt or ("paths" if null else "text")


def render_notes(notes: Sequence[str]) -> None:
    for note in notes:
        click.echo(f"warning: {note}", err=True)


def make_rule(threshold: int | None, similarity: str | None) -> Rule:
    """--threshold alone is a plain pHash rule; a preset verifies (with --threshold if given).
    The rule carries its preset's name (Rule.name), which reports show."""
    if threshold is not None and similarity is None:
        return Rule(threshold, None)
    preset = similarity or DEFAULT_PRESET
    rule = PRESETS[preset]
    if threshold is not None:
        rule = Rule(threshold, rule.min_similarity, rule.min_window, preset)
    return rule


def make_settings(exclude: Sequence[str], hidden: bool, follow_symlinks: bool, jobs: int | None) -> Settings:
    from .crawl import CrawlOptions
    from .index import Settings

    return Settings(jobs=jobs, crawl=CrawlOptions(tuple(exclude), hidden, follow_symlinks))


def run_index(obj: Context, idx: Index, paths: Sequence[str]) -> IndexStats:
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
            click.echo(f"unreadable: {one_line(path)}: {one_line(reason)}", err=True)
        for warning in stats.warnings:
            click.echo(f"warning: {one_line(warning)}", err=True)
        for why, n in stats.skipped:
            click.echo(f"skipped: {plural(n, 'file')}: {why}", err=True)
    hint = " (-v to list)" if (stats.unreadable or stats.warnings) and not obj.verbose else ""
    skipped = sum(n for _, n in stats.skipped)
    said = "; ".join(why for why, _ in stats.skipped)
    obj.say(f"indexed: {stats.new} new, {stats.changed} changed, {stats.unchanged} unchanged, "
            f"{stats.removed} removed, {stats.unreadable} unreadable"
            + (f", {plural(len(stats.warnings), 'warning')}" if stats.warnings else "") + hint
            + (f"; {skipped} skipped: {said}" if skipped else ""))
    return stats


@contextlib.contextmanager
def match_progress(obj: Context) -> Iterator[Callable[[str, int, int], None] | None]:
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


#: Above these many fingerprinted files, partial matching is off unless asked for (--partial),
#: in query and in dedupe. The descriptor index is kept in a sidecar (local_index.py), so a
#: search no longer rebuilds it (107 s at 10^5 before), but the lookup itself still grows
#: with the library (ORB's first 64 bits are far from uniform: a descriptor has thousands of
#: neighbours within 4 bits at 10^5 pictures). Measured on this 2-core machine
#: (benchmarks/RESULTS.md, "Partial matching at scale"): a query takes 2.6 s of CPU at
#: 5x10^4 files and 3.3 s at 10^5 (0.85 s without local features); a dedupe's search costs
#: 14.7 ms of CPU per picture at 10^4 and 0.31 s at 10^5 (hours), and a synthetic 10^4-file
#: dedupe with every file alone had used more than 8 minutes of CPU without finishing
#: (verification and part views on top of the search), so dedupe keeps the old limit.
PARTIAL_QUERY_MAX = 50_000
PARTIAL_DEDUPE_MAX = 5_000
#: The limit before the sidecar (kept for callers that read it): dedupe's.
PARTIAL_AUTO_MAX = PARTIAL_DEDUPE_MAX


def note_stale(obj: Context, idx: object, *, indexing: bool = False) -> None:
    """Say on stderr (unless -q) how many files of the index hold fingerprints of another
    recipe (an index written by an older imgfind, or before a Pillow upgrade): searches leave
    them out until 'imgfind index' of their folders fingerprints them again, so without this
    note an old index answers "0 groups" or "0 matches" without a word. *indexing*: said by
    an index run, which makes them again (why it re-reads files that did not change)."""
    n = idx.store.stale_count()  # type: ignore[attr-defined]
    if n:
        what = (": those under these folders are fingerprinted again" if indexing else
                f" and left out; to fingerprint them again, run: {reindex_command(obj, idx)}")
        obj.say(f"note: {n} indexed {'file was' if n == 1 else 'files were'} fingerprinted by "
                f"another version of imgfind (or of Pillow){what}")


def reindex_command(obj: Context, idx: object) -> str:
    """The index command, quoted for a shell, that fingerprints again the stale files of
    *idx* (stale.folders_to_index: the indexed roots holding them, at most a few, then "and N
    more folders"); with --db when the index is not the one imgfind opens by default."""
    from .stale import folders_to_index  # noqa: PLC0415 - only when an index has stale files

    store = idx.store  # type: ignore[attr-defined]
    folders, more = folders_to_index(store.stale_folders(), store.roots())
    db = []
    if os.path.abspath(obj.db) != os.path.abspath(os.environ.get("IMGFIND_DB") or default_db()):
        db = ["--db", obj.db]
    words = " ".join(shlex.quote(w) for w in ["imgfind", *db, "index", *folders])
    return words + (f" (and {plural(more, 'more folder')})" if more else "")


def partial_on(obj: Context, idx: object, choice: bool | None, command: str = "dedupe") -> bool:
    """Whether a query or dedupe (*command*) adds partial matches: *choice*
    (--partial/--no-partial) when given, else on for an index of at most PARTIAL_QUERY_MAX
    (query) or PARTIAL_DEDUPE_MAX (dedupe) fingerprinted files, and off above, with a note on
    stderr saying how to turn it on.

    The files counted are those the search covers (the index's fingerprints of this recipe:
    the arrays the command loads anyway); counting the files table instead read every row of
    it, 0.05 s of a 0.4 s query at 10^6 files."""
    if choice is not None:
        return choice
    n = len(idx.search_side()[0])  # type: ignore[attr-defined]
    limit = PARTIAL_QUERY_MAX if command == "query" else PARTIAL_DEDUPE_MAX
    if n <= limit:
        return True
    obj.say(f"note: partial matching (crops, screenshots, collages) is off for an index of {n} "
            f"files (more than {limit}: slow at this size); --partial turns it on")
    return False
