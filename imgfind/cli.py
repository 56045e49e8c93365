"""The imgfind command line: parse options, call the Index API, render, map errors to exits.

Results go to stdout; progress, warnings and summaries go to stderr. Exit codes: 0 success
(whether or not anything matched), 1 an error the user can fix (one line, ``Error: ...``),
2 a usage error. The finding commands are here; the acting ones (apply, undo, ignore, report)
in cli_act.py; what both share in cli_common.py.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from . import cli_act, cli_answers
from ._version import __version__
from .cli_common import (PARTIAL_DEDUPE_MAX, PARTIAL_QUERY_MAX, Context, Group, crawl_options, default_db,
                         group_options, make_rule, make_settings, match_options, match_progress, output_format,
                         note_stale, pass_ctx, render_notes, partial_on, run_index, user_errors)
from .dask_executor import SCHEDULER_ENV, SchedulerAddress, scheduler_executor
from .errors import ImgfindError
from .model import display
from .report import one_line, plural, render_groups, render_queries
from .report.text import render_status

if TYPE_CHECKING:
    from .index import Settings


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
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


def _scheduler_source() -> str:
    """How --scheduler's value was given, for messages: the option or the variable."""
    source = click.get_current_context().get_parameter_source("scheduler")
    from_env = source is click.core.ParameterSource.ENVIRONMENT
    return f"{SCHEDULER_ENV} (environment)" if from_env else "--scheduler"


def _check_scheduler(ctx: click.Context, param: click.Parameter,
                     value: str | None) -> SchedulerAddress | None:
    """--scheduler (or IMGFIND_SCHEDULER), checked as it is read, once: a malformed address or
    local:N is a usage error (exit 2), before anything connects or starts."""
    if value is None:
        return None
    try:
        return SchedulerAddress.parse(value)
    except ValueError as exc:
        source = ctx.get_parameter_source("scheduler")
        where = f" (from {SCHEDULER_ENV})" if source is click.core.ParameterSource.ENVIRONMENT else ""
        raise click.BadParameter(f"{exc}{where}", ctx, param) from None


scheduler_option = click.option(
    "--scheduler", metavar="ADDRESS", envvar="IMGFIND_SCHEDULER", default=None,
    callback=_check_scheduler,
    help="Fingerprint on a Dask cluster: a scheduler address (tcp://host:8786), or "
         "local:N for N local worker processes (env IMGFIND_SCHEDULER; needs "
         "distributed: imgfind's 'dask' extra). The workers must see the same paths. "
         "Timeouts are Dask's configuration: distributed.comm.timeouts.connect for the "
         "scheduler to answer, distributed.scheduler.no-workers-timeout for a cluster with no "
         "worker (default 60 s; raise it for a cluster that scales up from zero).")


def dask_settings(obj: Context, settings: Settings, scheduler: SchedulerAddress | None,
                  jobs: int | None, stack: ExitStack) -> Settings:
    """*settings* with the Dask executor of --scheduler/IMGFIND_SCHEDULER (entered on
    *stack*, its banner said), or as they are without either. -j is then the cluster's
    business: a warning says so rather than ignoring it silently."""
    executor = scheduler_executor(scheduler, _scheduler_source())
    if executor is None:
        return settings
    if jobs is not None:
        obj.say(f"warning: -j {jobs} is ignored with {_scheduler_source()}: the cluster's "
                "workers run the fingerprinting")
    stack.enter_context(executor)
    obj.say(f"fingerprinting on {executor.describe()}")
    return replace(settings, executor=executor)


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@crawl_options
@scheduler_option
@group_options
@pass_ctx
@user_errors
def index_cmd(obj: Context, paths: tuple[str, ...], exclude: tuple[str, ...], hidden: bool,
              follow_symlinks: bool, jobs: int | None, scheduler: SchedulerAddress | None) -> None:
    """Fingerprint the images under PATHS into the index (incremental).

    Unchanged files are skipped, changed ones re-read, vanished ones dropped.

    \b
    Example:
        imgfind index ~/Photos ~/Downloads --exclude '*.tmp'
        imgfind index /shared/photos --scheduler tcp://scheduler:8786
    """
    with ExitStack() as stack:
        settings = dask_settings(obj, make_settings(exclude, hidden, follow_symlinks, jobs),
                                 scheduler, jobs, stack)
        with obj.open(settings) as idx:
            note_stale(obj, idx, indexing=True)
            run_index(obj, idx, paths)


def _check_maps(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """--map FROM=TO, checked as the option is read: a malformed one is a usage error (exit 2)."""
    from .merge import parse_map  # noqa: PLC0415

    try:
        parse_map(value)
    except ImgfindError as exc:
        raise click.BadParameter(str(exc).removeprefix("--map "), ctx, param) from None
    return value


@cli.command("merge")
@click.argument("others", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--map", "maps", multiple=True, metavar="FROM=TO", callback=_check_maps,
              help="Rewrite the path prefix FROM of the other indexes' files to TO (repeatable).")
@group_options
@pass_ctx
@user_errors
def merge_cmd(obj: Context, others: tuple[str, ...], maps: tuple[str, ...]) -> None:
    """Merge indexes built elsewhere (OTHERS, index files) into this index.

    They must use this imgfind's fingerprint recipe. For a file both hold, the newer record
    wins. Files deleted since are dropped by the next 'imgfind index' of their folder.

    \b
    Example:
        imgfind merge part-a.db part-b.db --map /mnt/a=/data/a
    """
    from .merge import check_sources

    # Every other index is checked before this one is opened: a refused merge into a new
    # --db leaves no empty index behind (and, should a later step fail, what it made is removed).
    check_sources(obj.db, others)
    made = not os.path.lexists(obj.db)
    try:
        with obj.open() as idx:
            for st in idx.merge(others, maps=maps, checked=True):
                obj.say(f"merged {st.source}: {st.added} added, {st.replaced} replaced, "
                        f"{st.kept} kept (this index's record as new or newer)")
    except ImgfindError:
        if made:
            for leftover in (obj.db, obj.db + "-wal", obj.db + "-shm", obj.db + "-journal"):
                try:
                    os.unlink(leftover)
                except OSError:
                    pass
        raise


@cli.command("export")
@click.option("--parquet", "out", required=True, type=click.Path(), metavar="FILE",
              help="Write the fingerprints to this Parquet file (needs pyarrow: imgfind's 'parquet' extra).")
@click.option("--thumbs", is_flag=True, help="Include the stored thumbnails (for verifying "
              "candidate pairs outside imgfind).")
@group_options
@pass_ctx
@user_errors
def export_cmd(obj: Context, out: str, thumbs: bool) -> None:
    """Export the index's fingerprints for a columnar engine (DuckDB, Spark, Dask).

    One row per fingerprinted file: path, size, mtime, format, size in pixels, pHash, dHash,
    every hash column, trimmed box (see docs/scale.md).

    \b
    Example:
        imgfind export --parquet prints.parquet
    """
    from .export import write_parquet

    # Checked before anything is read: "-" is not stdout here (a Parquet file is written
    # whole, then renamed into place), and a missing folder is named as such rather than
    # by the temporary file's name in pyarrow's wording.
    if out == "-":
        raise ImgfindError("--parquet writes a file, not standard output: give a file name "
                           "(export --parquet prints.parquet)")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ImgfindError(f"cannot write {out}: folder {folder} does not exist")
    with obj.open(readonly=True) as idx:
        note_stale(obj, idx)
        rows = write_parquet(idx.store.stored_files(), out, thumbs=thumbs)
    obj.say(f"exported {rows} fingerprints to {out}")


class _Finite(click.FloatRange):
    """A float in [min, max] that is a number: click's FloatRange lets nan through (every
    comparison with nan is false), which reached the socket as a traceback."""

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        got = super().convert(value, param, ctx)
        if math.isnan(got):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return got


@cli.command("query")
@click.argument("images", nargs=-1, required=True, type=click.Path(readable=False))
@match_options()
@click.option("-k", "--limit", type=click.IntRange(1), default=None, help="At most K matches per image.")
@click.option("--partial/--no-partial", "use_partial", default=None,
              help="Also find pictures that share a region with IMAGES (crops, screenshots, "
                   "collages, turned or skewed copies), through local features. Default: on for "
                   f"an index of at most {PARTIAL_QUERY_MAX:,} files, off above (slow at that "
                   "size).")
@click.option("--timeout", type=_Finite(0.1, 86_400.0), default=30.0, show_default=True, metavar="SECONDS",
              help="Give up on an image URL not downloaded within this time.")
@click.option("--max-size", type=_Finite(0.001, 2.0**20), default=50.0, show_default=True, metavar="MIB",
              help="Refuse an image URL (or stdin) larger than this.")
@cli_answers.sort_option
@group_options
@pass_ctx
@user_errors
def query_cmd(obj: Context, images: tuple[str, ...], threshold: int | None, similarity: str | None,
              fmt: str | None, null: bool, limit: int | None, use_partial: bool | None, timeout: float,
              max_size: float, sort: str) -> None:
    """Reverse image search: list every indexed copy of IMAGES, nearest first.

    IMAGES are image files, folders of query images (one result block per image), http(s)
    URLs of images (downloaded, within --timeout and --max-size) or - for standard input.

    \b
    Example:
        imgfind query photo.jpg --limit 10 --format json
        imgfind query https://example.com/logo.png
        imgfind query ~/Desktop/queries --format csv
        curl -s https://example.com/a.jpg | imgfind query -
    """
    from .sources import gathered

    fmt = output_format(fmt, null)
    rule = make_rule(threshold, similarity)
    skipped: list[str] = []  # files of a folder given that are not readable images
    failed: list[str] = []  # arguments that give no readable image (with several arguments)

    def skip(name: str, why: str) -> None:
        skipped.append(f"{name}: {why}")

    def fail(message: str) -> None:
        failed.append(message)

    several = len(images) > 1
    with gathered(images, stdin=getattr(sys.stdin, "buffer", None), max_bytes=int(max_size * 2**20),
                  timeout=timeout, skip=skip, fail=fail if several else None) as got:
        in_folder = {q.name or display(os.path.abspath(os.fsencode(q.path)))
                     for q in got.images if q.in_folder}

        def unreadable(name: str, why: str) -> None:
            (skip(name, why) if name in in_folder else fail(f"{name}: {why}"))

        with obj.open(readonly=True) as idx:
            # no limit here: the likely original is chosen among every match, then
            # cli_answers.answer orders and cuts the list
            results = idx.query_many([q.path for q in got.images], rule,
                                     names=[q.name for q in got.images],
                                     skip=unreadable if (got.batch or several) else None,
                                     partial=partial_on(obj, idx, use_partial, "query"))
            results = cli_answers.answer(idx, results, sort, limit)
            if any(not r.matches for r in results):  # (a pass over the files: only then)
                note_stale(obj, idx)
    for line in skipped:
        obj.say(f"skipped: {one_line(line)}")
    for line in failed:  # always said, -q or not: the exit status is 1
        click.echo(f"Error: {one_line(line)}", err=True)
    if not results and (skipped or failed):
        raise ImgfindError(f"no query image could be read ({plural(len(skipped) + len(failed), 'file')} "
                           f"{'skipped' if not failed else 'unreadable'})")
    if fmt == "paths" and obj.verbose and len(results) > 1:
        # the paths format has no room for names: one block per answered query, in order
        for i, r in enumerate(results, 1):
            click.echo(f"block {i}: {one_line(r.path)} ({plural(len(r.matches), 'match', 'matches')})",
                       err=True)
    render_notes(render_queries(results, fmt, sys.stdout, rule, null=null))
    if failed:
        sys.exit(1)


@cli.command("dedupe")
@click.argument("paths", nargs=-1, type=click.Path())
@match_options(cli_act.DEDUPE_FORMATS)
@cli_act.plan_options
@crawl_options
@scheduler_option
@click.option("--partial/--no-partial", "use_partial", default=None,
              help="Add partial matches (crops, screenshots, collages, turned or skewed copies) "
                   "to groups as partial members; they never merge two groups. Default: on for "
                   f"an index of at most {PARTIAL_DEDUPE_MAX:,} files, off above (slow at that size).")
@group_options
@pass_ctx
@user_errors
def dedupe_cmd(obj: Context, paths: tuple[str, ...], threshold: int | None, similarity: str | None,
               fmt: str | None, null: bool, plan_path: str | None, keep: tuple[str, ...],
               reference: tuple[str, ...], against: str | None, unique: bool,
               exclude: tuple[str, ...], hidden: bool, follow_symlinks: bool,
               jobs: int | None, scheduler: SchedulerAddress | None,
               use_partial: bool | None) -> None:
    """Print groups of duplicates and near-duplicates (read-only: touches no file).

    With PATHS, index them first (incrementally; on Dask with --scheduler, as 'index') and
    group only the files under them; without, group the whole index.

    \b
    Example:
        imgfind dedupe ~/Downloads
        imgfind dedupe --threshold 6 --format paths
        imgfind dedupe ~/Downloads -0 | xargs -0 ls -l
    """
    fmt = output_format(fmt, null)
    rule = make_rule(threshold, similarity)
    with ExitStack() as stack:
        settings = make_settings(exclude, hidden, follow_symlinks, jobs)
        if paths:  # without PATHS nothing is fingerprinted: no cluster
            settings = dask_settings(obj, settings, scheduler, jobs, stack)
        _dedupe(obj, paths, rule, fmt, settings, null, plan_path, keep, reference, against,
                unique, use_partial)


def _dedupe(obj: Context, paths: tuple[str, ...], rule: Any, fmt: str, settings: Settings,
            null: bool, plan_path: str | None, keep: tuple[str, ...], reference: tuple[str, ...],
            against: str | None, unique: bool, use_partial: bool | None) -> None:
    if cli_act.acting(obj, fmt, plan_path, keep, reference, against, unique):
        # keep rules, a plan, another folder to compare with, or remembered decisions
        cli_act.dedupe_act(obj, paths, rule, fmt, settings, null=null, plan_path=plan_path, keep=keep,
                           reference=reference, against=against, unique=unique,
                           use_partial=use_partial)
        return
    with match_progress(obj) as on_progress:
        if paths:
            with obj.open(settings) as idx:
                run_index(obj, idx, paths)
                groups = idx.groups(rule, under=paths, on_progress=on_progress,
                                    partial=partial_on(obj, idx, use_partial))
        else:
            with obj.open(readonly=True) as idx:
                note_stale(obj, idx)
                groups = idx.groups(rule, on_progress=on_progress,
                                    partial=partial_on(obj, idx, use_partial))
    render_notes(render_groups(groups, fmt, sys.stdout, rule, null=null))


@cli.command("status")
@group_options
@pass_ctx
@user_errors
def status_cmd(obj: Context) -> None:
    """Show where the index is and what it holds; -v lists unreadable files.

    \b
    Example:
        imgfind status
    """
    with obj.open(readonly=True) as idx:
        note_stale(obj, idx)
        render_status(os.path.abspath(obj.db), {**idx.store.counts(), **idx.store.page_counts()},
                      idx.problems() if obj.verbose else None, sys.stdout,
                      idx.store.last_indexed())


for _command in (*cli_act.COMMANDS, *cli_answers.COMMANDS):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: names that are not UTF-8 are written back as their own bytes."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    cli.main(args=list(argv) if argv is not None else None, prog_name="imgfind")
