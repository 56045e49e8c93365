"""The acting commands: `apply`, `undo`, `ignore`, `report`, and what `dedupe` does with
--plan, --keep, --reference, --against, --unique and --format html.

cli.py adds COMMANDS to its group and routes dedupe here when ``acting`` says so: with none of
those options and no remembered "not a duplicate" pair, dedupe only reports, as before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from . import plan as plan_mod
from .cli_common import (PARTIAL_DEDUPE_MAX, Context, crawl_options, group_options, make_rule, make_settings,
                         match_progress, note_stale, partial_on, pass_ctx, render_notes, run_index,
                         user_errors)
from .errors import ImgfindError
from .report import FORMATS, one_line, render_groups
from .keep import RULE_NAMES, parse_rules
from .model import Group, Rule
from .outfile import write_text

#: dedupe's formats: the report formats and the HTML report.
DEDUPE_FORMATS = (*FORMATS, "html")


def plan_options(fn: Any) -> Any:
    """dedupe's acting options: --plan, --keep, --reference, --against, --unique."""
    for decorator in reversed((
        click.option("--plan", "plan_path", metavar="FILE", default=None,
                     help="Write a plan (JSON) for 'imgfind apply': the kept file of each group "
                          "and what to do with the others."),
        click.option("--keep", multiple=True, metavar="RULES",
                     help="Ordered keep rules, comma-separated: " + ", ".join(RULE_NAMES)
                          + " [default: resolution,lossless-format,quality,size,oldest,"
                          "shortest-path]."),
        click.option("--reference", multiple=True, type=click.Path(), metavar="DIR",
                     help="Files under DIR are preferred as kept and never modified (repeatable)."),
        click.option("--against", type=click.Path(), metavar="DIR",
                     help="List files under PATHS that have a copy under DIR."),
        click.option("--unique", is_flag=True,
                     help="With --against: list files under PATHS with no copy under DIR."),
    )):
        fn = decorator(fn)
    return fn


def acting(obj: Context, fmt: str, plan_path: str | None, keep: Sequence[str],
           reference: Sequence[str], against: str | None, unique: bool) -> bool:
    """Does this dedupe need the acting path (a plan, keep rules, html, --against, or
    remembered "not a duplicate" pairs to honour)?"""
    from . import ignore as ignore_mod  # noqa: PLC0415

    return bool(plan_path or keep or reference or against or unique or fmt == "html"
                or ignore_mod.keyset(obj.db))


def _keep_rules(keep: Sequence[str]) -> tuple[str, ...]:
    try:
        return parse_rules(list(keep))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--keep'") from None


def _groups_and_plan(obj: Context, paths: Sequence[str], rule: Rule, preset: str | None,
                     keep: Sequence[str], reference: Sequence[str], settings: Any,
                     use_partial: bool | None = None) -> tuple[list[Group], plan_mod.Plan]:
    """Index PATHS (if any), group (partial members as --partial/--no-partial and the size
    limit say: cli_common.partial_on), apply remembered decisions, and plan the groups."""
    from . import ignore as ignore_mod  # noqa: PLC0415
    from .planner import build_plan, group_rows  # noqa: PLC0415

    rules = _keep_rules(keep)
    with match_progress(obj) as on_progress:
        with obj.open(settings, readonly=not paths) as idx:
            if paths:
                run_index(obj, idx, paths)
            else:
                note_stale(obj, idx)
            under = list(paths) or None
            groups = idx.groups(rule, under=under, on_progress=on_progress,
                                partial=partial_on(obj, idx, use_partial))
            _, side = idx.search_side(under)
            row_of = group_rows(side)
            ignored = ignore_mod.keyset(obj.db)
            groups = ignore_mod.split_groups(groups, side, row_of, rule, ignored)
            plan = build_plan(groups, side, row_of, rule, rules, reference, preset)
    return groups, plan


def _act():
    """The act module, imported when a command acts (query and dedupe do not load it)."""
    from . import act  # noqa: PLC0415

    return act


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
             fmt: str, settings: Any, null: bool = False) -> None:
    from .match import find_pairs  # noqa: PLC0415

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
    if null:  # -0: each path byte for byte, ended by NUL
        for r in rows:
            sys.stdout.write(recs[int(prints_a.ids[r])].path + "\0")
        sys.stdout.flush()
    for r in [] if null else rows:
        path = one_line(recs[int(prints_a.ids[r])].path)
        if unique or fmt == "paths":
            click.echo(path)
        else:
            click.echo(f"{path}\t{one_line(recs[int(prints_b.ids[best[r][0]])].path)}")
    what = "without a copy in" if unique else "with a copy in"
    obj.say(f"{len(rows)} of {len(prints_a)} files {what} {against}")


def dedupe_act(obj: Context, paths: Sequence[str], rule: Rule, fmt: str, settings: Any, *,
               null: bool = False,
               plan_path: str | None, keep: Sequence[str], reference: Sequence[str],
               against: str | None, unique: bool, use_partial: bool | None = None) -> None:
    """dedupe with keep rules, a plan, html, --against/--unique, or remembered decisions."""
    preset = rule.name
    if unique and not against:
        raise click.UsageError("--unique goes with --against")
    if against:
        _against(obj, paths, against, unique, rule, fmt, settings, null)
        return
    groups, plan = _groups_and_plan(obj, paths, rule, preset, keep, reference, settings,
                                    use_partial)
    if plan_path:
        write_text(plan_path, plan_mod.dumps(plan))
        removing = sum(1 for g in plan.groups for f in g.files if f.action == "remove")
        obj.say(f"plan: {len(plan.groups)} groups, {removing} files to remove -> {plan_path}")
    if fmt == "html":
        from .html import render  # noqa: PLC0415

        sys.stdout.write(render(plan_mod.to_json(plan)))
    elif fmt == "text" and (keep or reference or plan_path):
        _render_plan_text(plan)
    else:
        render_notes(render_groups(groups, fmt, sys.stdout, rule, null=null))




# ----------------------------------------------------------------------------- report
@click.command("report")
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
@click.option("--partial/--no-partial", "use_partial", default=None,
              help="Show partial matches (crops, screenshots, collages, turned or skewed copies) "
                   "as partial members of groups. Default: on for an index of at most "
                   f"{PARTIAL_DEDUPE_MAX:,} files, off above (slow at that size).")
@group_options
@pass_ctx
@user_errors
def report_cmd(obj: Context, paths: tuple[str, ...], output: str, keep: tuple[str, ...],
               reference: tuple[str, ...], threshold: int | None, similarity: str | None,
               exclude: tuple[str, ...], hidden: bool, follow_symlinks: bool,
               jobs: int | None, use_partial: bool | None) -> None:
    """Write an HTML report of the duplicate groups: open it offline in a browser, pick what
    to keep, mark what is not a duplicate, and download a plan for 'imgfind apply'.

    \b
    Example:
        imgfind report ~/Photos -o report.html --keep resolution,oldest
    """
    from .html import render  # noqa: PLC0415

    rule = make_rule(threshold, similarity)
    _, plan = _groups_and_plan(obj, paths, rule, rule.name, keep, reference,
                               make_settings(exclude, hidden, follow_symlinks, jobs), use_partial)
    write_text(output, render(plan_mod.to_json(plan)))
    obj.say(f"report: {len(plan.groups)} groups -> {output}")


# ----------------------------------------------------------------------------- apply
@click.command("apply")
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
@group_options
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
    if yes:
        obj.check_db_folder()  # the journal lives beside the index
    if not yes:
        click.echo("# dry run: nothing is changed (add --yes to act)")
    out = _act().apply(plan, obj.db, method, yes=yes, move_to=move_to,
                        merge_metadata=merge_metadata, say=lambda s: click.echo(one_line(s)))
    verb = {"trash": "trashed", "move": "moved", "hardlink": "hard-linked",
            "symlink": "symlinked", "delete": "deleted"}[method]
    would = "" if yes else "would be "
    obj.say(f"{out.done} files {would}{verb}, {out.skipped} skipped"
            + (f", {out.ignored} pairs {would}remembered as not duplicates" if out.ignored else "")
            + (f", metadata merged {out.merged} times" if out.merged else "")
            + ("" if yes else "; run again with --yes to act"))


@click.command("undo")
@click.option("--list", "list_", is_flag=True, help="Show the applies recorded, oldest first.")
@click.option("--purge", is_flag=True,
              help="Delete the originals held for undoing links and merges (frees their space).")
@group_options
@pass_ctx
@user_errors
def undo_cmd(obj: Context, list_: bool, purge: bool) -> None:
    """Reverse the last 'imgfind apply': put moved, trashed and linked files back.

    Every step that can be undone is; when some cannot (a deleted file, a link replaced
    since), each says why and the exit status is 1.

    \b
    Example:
        imgfind undo --list
        imgfind undo
    """
    if list_:
        lines = _act().history(obj.db)
        for line in lines:
            click.echo(line)
        if not lines:
            obj.say("no apply recorded")
        return
    if purge:
        n = _act().purge(obj.db)
        obj.say(f"purged {n} held files")
        return
    report = _act().undo(obj.db, say=lambda s: click.echo(one_line(s)))
    bad = _act().failed(report)
    summary = f"undone: {len(report) - bad} steps, {bad} could not be undone"
    if bad:  # every step that could be undone was; the exit status says some could not
        raise ImgfindError(f"{summary} (see the 'cannot undo' lines)")
    obj.say(summary)


@click.command("ignore")
@click.argument("files", nargs=-1, type=click.Path())
@click.option("--list", "list_", is_flag=True, help="Show the pairs marked as not duplicates.")
@click.option("--remove", is_flag=True, help="Forget that FILE_A and FILE_B are not duplicates.")
@group_options
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
    from . import ignore as ignore_mod  # noqa: PLC0415
    from .pair import content_key, fingerprint_file  # noqa: PLC0415

    if list_:
        for p in ignore_mod.load(obj.db):
            click.echo(f"{one_line(p['a_path'])}\t{one_line(p['b_path'])}\t{p['added']}")
        return
    if len(files) != 2:
        raise click.UsageError("give two files (or --list)")
    obj.check_db_folder()  # ignore.json lives beside the index
    keys = [content_key(fingerprint_file(f)[1].hashes) for f in files]
    if remove:
        found = ignore_mod.remove(obj.db, *keys)
        obj.say("forgotten" if found else "that pair was not remembered")
        return
    new = ignore_mod.add(obj.db, keys[0], keys[1], os.path.abspath(files[0]),
                         os.path.abspath(files[1]))
    obj.say("remembered: not duplicates" if new else "already remembered")


#: The acting commands, for cli.py's group.
COMMANDS = (report_cmd, apply_cmd, undo_cmd, ignore_cmd)
