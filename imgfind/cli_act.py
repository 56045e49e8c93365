"""The acting commands: `apply`, `undo`, `ignore`, `report`, and dedupe's acting options.

cli.py imports this module at its end. Besides registering four commands on the group, it
adds to `dedupe` the options --plan, --keep, --reference, --against, --unique and the html
format, and wraps dedupe's callback: with none of them set and no remembered "not a
duplicate" pair, dedupe runs exactly as before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from . import act as act_mod
from . import ignore as ignore_mod
from . import plan as plan_mod
from .cli import (Context, match_progress, run_index, make_settings, cli, crawl_options, dedupe_cmd,
                  make_rule, match_options, one_line, pass_ctx, user_errors)
from .errors import ImgfindError
from .keep import RULE_NAMES, parse_rules
from .match import find_pairs
from .model import Group, Rule
from .planner import build_plan, group_rows
from .report import render_groups

ACT_OPTIONS = ("plan_path", "keep", "reference", "against", "unique")


def _keep_rules(keep: Sequence[str]) -> tuple[str, ...]:
    try:
        return parse_rules(list(keep))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--keep'") from None


def _groups_and_plan(obj: Context, paths: Sequence[str], rule: Rule, preset: str | None,
                     keep: Sequence[str], reference: Sequence[str],
                     settings: Any) -> tuple[list[Group], plan_mod.Plan]:
    """Index PATHS (if any), group, apply remembered decisions, and plan the groups."""
    rules = _keep_rules(keep)
    with match_progress(obj) as on_progress:
        with obj.open(settings, readonly=not paths) as idx:
            if paths:
                run_index(obj, idx, paths)
            under = list(paths) or None
            groups = idx.groups(rule, under=under, on_progress=on_progress)
            _, side = idx.search_side(under)
            row_of = group_rows(side)
            ignored = ignore_mod.keyset(obj.db)
            groups = ignore_mod.split_groups(groups, side, row_of, rule, ignored)
            plan = build_plan(groups, side, row_of, rule, rules, reference, preset)
    return groups, plan


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise ImgfindError(f"cannot write {path}: {exc.strerror or exc}") from None


def _render_plan_text(plan: plan_mod.Plan) -> None:
    for n, g in enumerate(plan.groups, 1):
        click.echo(f"Group {n} ({len(g.files)} files), kept by rule: {g.rule}")
        for f in g.files:
            tag = "keep" if f.path == g.kept else ("ref " if f.reference else f.action)
            sim = "" if f.similarity is None else f" sim {f.similarity:.3f}"
            dist = "" if f.path == g.kept or f.distance is None else f" dist {f.distance}{sim}"
            click.echo(f"  {tag:6s} {one_line(f.path)}  {f.width}x{f.height} {f.format} "
                       f"{f.bytes} B{dist}")
        click.echo("")


def _against(obj: Context, paths: Sequence[str], against: str, unique: bool, rule: Rule,
             fmt: str, settings: Any) -> None:
    if not paths:
        raise click.UsageError("--against needs the folders to check: dedupe A --against B")
    with obj.open(settings) as idx:
        run_index(obj, idx, [*paths, against])
        prints_a, side_a = idx.search_side(list(paths))
        prints_b, side_b = idx.search_side([against])
        pairs = find_pairs(side_a, side_b, rule, same=False)
        best: dict[int, tuple[int, int]] = {}
        for p in pairs:
            if int(prints_a.ids[p.a]) == int(prints_b.ids[p.b]):
                continue  # the same file, under both folders
            if p.a not in best or p.distance < best[p.a][1]:
                best[p.a] = (p.b, p.distance)
        ids = [int(i) for i in prints_a.ids] + [int(prints_b.ids[b]) for b, _ in best.values()]
        recs = idx.store.records(ids)
    rows = [r for r in range(len(prints_a)) if (r in best) != unique]
    rows.sort(key=lambda r: recs[int(prints_a.ids[r])].path)
    if fmt == "json":
        doc = [{"path": recs[int(prints_a.ids[r])].path,
                **({} if unique else {"copy": recs[int(prints_b.ids[best[r][0]])].path,
                                      "distance": best[r][1]})} for r in rows]
        click.echo(json.dumps({"format": "imgfind-against/1", "unique": unique, "files": doc},
                              indent=1))
        return
    for r in rows:
        path = one_line(recs[int(prints_a.ids[r])].path)
        if unique or fmt == "paths":
            click.echo(path)
        else:
            click.echo(f"{path}\t{one_line(recs[int(prints_b.ids[best[r][0]])].path)}")
    what = "without a copy in" if unique else "with a copy in"
    obj.say(f"{len(rows)} of {len(prints_a)} files {what} {against}")


def _dedupe_act(obj: Context, *, paths: tuple[str, ...], threshold: int | None,
                similarity: str | None, fmt: str, exclude: tuple[str, ...], hidden: bool,
                follow_symlinks: bool, jobs: int | None, plan_path: str | None,
                keep: tuple[str, ...], reference: tuple[str, ...], against: str | None,
                unique: bool) -> None:
    rule, preset = make_rule(threshold, similarity)
    settings = make_settings(exclude, hidden, follow_symlinks, jobs)
    if unique and not against:
        raise click.UsageError("--unique goes with --against")
    if against:
        _against(obj, paths, against, unique, rule, fmt, settings)
        return
    groups, plan = _groups_and_plan(obj, paths, rule, preset, keep, reference, settings)
    if plan_path:
        _write_atomic(plan_path, plan_mod.dumps(plan))
        removing = sum(1 for g in plan.groups for f in g.files if f.action == "remove")
        obj.say(f"plan: {len(plan.groups)} groups, {removing} files to remove -> {plan_path}")
    if fmt == "html":
        from .html import render  # noqa: PLC0415

        sys.stdout.write(render(plan_mod.to_json(plan)))
    elif fmt == "text" and (keep or reference or plan_path):
        _render_plan_text(plan)
    else:
        render_groups(groups, fmt, sys.stdout, rule, preset)


def _install_dedupe_options() -> None:
    """Add the acting options to `dedupe` and route to _dedupe_act when they are used."""
    new = [
        click.Option(["--plan", "plan_path"], metavar="FILE", default=None,
                     help="Write a plan (JSON) for 'imgfind apply': the kept file of each group "
                          "and what to do with the others."),
        click.Option(["--keep"], multiple=True, metavar="RULES",
                     help="Ordered keep rules, comma-separated: " + ", ".join(RULE_NAMES)
                          + " [default: resolution,lossless-format,quality,size,oldest,"
                          "shortest-path]."),
        click.Option(["--reference"], multiple=True, type=click.Path(), metavar="DIR",
                     help="Files under DIR are preferred as kept and never modified (repeatable)."),
        click.Option(["--against"], type=click.Path(), metavar="DIR",
                     help="List files under PATHS that have a copy under DIR."),
        click.Option(["--unique"], is_flag=True,
                     help="With --against: list files under PATHS with no copy under DIR."),
    ]
    fmt = next(p for p in dedupe_cmd.params if p.name == "fmt")
    assert isinstance(fmt.type, click.Choice)
    fmt.type = click.Choice([*fmt.type.choices, "html"])
    fmt.help = (fmt.help or "") + " html: a report to open in a browser."
    dedupe_cmd.params.extend(new)
    original = dedupe_cmd.callback
    assert original is not None

    @pass_ctx
    @user_errors
    def callback(obj: Context, **kwargs: Any) -> Any:
        extra = {k: kwargs.pop(k) for k in ACT_OPTIONS}
        if (not any(extra.values()) and kwargs["fmt"] != "html"
                and not ignore_mod.keyset(obj.db)):
            return click.get_current_context().invoke(original, **kwargs)
        return _dedupe_act(obj, **kwargs, **extra)

    dedupe_cmd.callback = callback


_install_dedupe_options()


# ----------------------------------------------------------------------------- report
@cli.command("report")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", required=True, metavar="FILE", help="The HTML file to write.")
@click.option("--keep", multiple=True, metavar="RULES", help="Ordered keep rules (see dedupe).")
@click.option("--reference", multiple=True, type=click.Path(), metavar="DIR",
              help="Files under DIR are preferred as kept and never modified.")
@click.option("-t", "--threshold", type=click.IntRange(0, 64), default=None,
              help="Plain pHash Hamming distance (0-64), no verification step.")
@click.option("-s", "--similarity", type=click.Choice(["strict", "normal", "loose"]), default=None,
              help="Calibrated decision preset.")
@crawl_options
@pass_ctx
@user_errors
def report_cmd(obj: Context, paths: tuple[str, ...], output: str, keep: tuple[str, ...],
               reference: tuple[str, ...], threshold: int | None, similarity: str | None,
               exclude: tuple[str, ...], hidden: bool, follow_symlinks: bool,
               jobs: int | None) -> None:
    """Write an HTML report of the duplicate groups: open it offline in a browser, pick what
    to keep, mark what is not a duplicate, and download a plan for 'imgfind apply'.

    \b
    Example:
        imgfind report ~/Photos -o report.html --keep resolution,oldest
    """
    from .html import render  # noqa: PLC0415

    rule, preset = make_rule(threshold, similarity)
    _, plan = _groups_and_plan(obj, paths, rule, preset, keep, reference,
                               make_settings(exclude, hidden, follow_symlinks, jobs))
    _write_atomic(output, render(plan_mod.to_json(plan)))
    obj.say(f"report: {len(plan.groups)} groups -> {output}")


# ----------------------------------------------------------------------------- apply
@cli.command("apply")
@click.argument("plan_file", metavar="PLAN", type=click.Path())
@click.option("--trash", "method", flag_value="trash", default=True,
              help="Move removed files to the desktop trash [default].")
@click.option("--move-to", metavar="DIR", type=click.Path(),
              help="Move removed files under DIR, keeping their relative paths.")
@click.option("--hardlink", "method", flag_value="hardlink",
              help="Replace each removed file by a hard link to the kept one.")
@click.option("--symlink", "method", flag_value="symlink",
              help="Replace each removed file by a symbolic link to the kept one.")
@click.option("--delete", "method", flag_value="delete",
              help="Delete removed files for good (undo cannot bring them back).")
@click.option("--merge-metadata", is_flag=True,
              help="First copy capture time, GPS, keywords, creator, rating the kept file lacks.")
@click.option("-y", "--yes", is_flag=True, help="Act. Without it, only print what would be done.")
@pass_ctx
@user_errors
def apply_cmd(obj: Context, plan_file: str, method: str, move_to: str | None,
              merge_metadata: bool, yes: bool) -> None:
    """Carry out a plan written by 'dedupe --plan' (dry run unless --yes).

    Each file is re-checked first (size, time, fingerprint; a direct strict match with the
    kept file); a file that changed is skipped. Every action is journalled: 'imgfind undo'
    reverses the last apply.

    \b
    Example:
        imgfind apply plan.json               # shows what it would do
        imgfind apply plan.json --yes         # moves the copies to the trash
        imgfind apply plan.json --hardlink --yes
    """
    if move_to:
        if method not in ("trash", None):
            raise click.UsageError("choose one of --trash, --move-to, --hardlink, --symlink, --delete")
        method = "move"
    plan = plan_mod.load(plan_file)
    if not yes:
        click.echo(f"# dry run: nothing is changed (add --yes to act)")
    out = act_mod.apply(plan, obj.db, method, yes=yes, move_to=move_to,
                        merge_metadata=merge_metadata, say=lambda s: click.echo(one_line(s)))
    verb = {"trash": "trashed", "move": "moved", "hardlink": "hard-linked",
            "symlink": "symlinked", "delete": "deleted"}[method]
    would = "" if yes else "would be "
    obj.say(f"{out.done} files {would}{verb}, {out.skipped} skipped"
            + (f", {out.ignored} pairs {would}remembered as not duplicates" if out.ignored else "")
            + (f", metadata merged {out.merged} times" if out.merged else "")
            + ("" if yes else "; run again with --yes to act"))


@cli.command("undo")
@click.option("--list", "list_", is_flag=True, help="Show the applies recorded, oldest first.")
@click.option("--purge", is_flag=True,
              help="Delete the originals held for undoing links and merges (frees their space).")
@pass_ctx
@user_errors
def undo_cmd(obj: Context, list_: bool, purge: bool) -> None:
    """Reverse the last 'imgfind apply': put moved, trashed and linked files back.

    \b
    Example:
        imgfind undo --list
        imgfind undo
    """
    if list_:
        lines = act_mod.history(obj.db)
        for line in lines:
            click.echo(line)
        if not lines:
            obj.say("no apply recorded")
        return
    if purge:
        n = act_mod.purge(obj.db)
        obj.say(f"purged {n} held files")
        return
    report = act_mod.undo(obj.db, say=lambda s: click.echo(one_line(s)))
    bad = sum(1 for r in report if r.startswith("cannot"))
    obj.say(f"undone: {len(report) - bad} steps, {bad} could not be undone")


@cli.command("ignore")
@click.argument("files", nargs=-1, type=click.Path())
@click.option("--list", "list_", is_flag=True, help="Show the pairs marked as not duplicates.")
@click.option("--remove", is_flag=True, help="Forget that FILE_A and FILE_B are not duplicates.")
@pass_ctx
@user_errors
def ignore_cmd(obj: Context, files: tuple[str, ...], list_: bool, remove: bool) -> None:
    """Mark two files as not duplicates: they never group again, even renamed or moved.

    \b
    Example:
        imgfind ignore a.jpg b.jpg
        imgfind ignore --list
        imgfind ignore --remove a.jpg b.jpg
    """
    from .pair import content_key, fingerprint_file  # noqa: PLC0415

    if list_:
        for p in ignore_mod.load(obj.db):
            click.echo(f"{one_line(p['a_path'])}\t{one_line(p['b_path'])}\t{p['added']}")
        return
    if len(files) != 2:
        raise click.UsageError("give two files (or --list)")
    keys = [content_key(fingerprint_file(f)[1].hashes) for f in files]
    if remove:
        found = ignore_mod.remove(obj.db, *keys)
        obj.say("forgotten" if found else "that pair was not remembered")
        return
    new = ignore_mod.add(obj.db, keys[0], keys[1], os.path.abspath(files[0]),
                         os.path.abspath(files[1]))
    obj.say("remembered: not duplicates" if new else "already remembered")
