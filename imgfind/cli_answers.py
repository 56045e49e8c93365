"""The answering commands: ``pages`` (which web page shows which image) and ``info`` (all
imgfind knows about one image), and query's ``--sort`` option. cli.py adds COMMANDS to its
group; query calls ``answer`` on its results.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from . import answers
from .cli_common import Context, group_options, pass_ctx, user_errors
from .errors import ImgfindError
from .model import QueryResult
from .report import one_line, plural

if TYPE_CHECKING:
    from .index import Index

sort_option = click.option(
    "--sort", type=click.Choice(answers.SORTS), default="distance", show_default=True,
    help="Order of the matches: nearest, most pixels, oldest (capture time, else file time) "
         "or largest file first.")


def answer(idx: Index, results: Sequence[QueryResult], sort: str,
           limit: int | None) -> list[QueryResult]:
    """Add the web pages that show each copy, then order and cut the matches (--sort, --limit)."""
    return [answers.arrange(r, sort, limit) for r in idx.with_pages(results)]


@click.command("pages")
@click.argument("source", required=False, type=click.Path())
@click.option("--base-url", metavar="URL", default=None,
              help="The site's address (http/https) the pages were published under; "
                   "a WordPress export's own base_site_url by default.")
@click.option("--files", metavar="DIR", type=click.Path(exists=True, file_okay=False), default=None,
              help="The local folder the base URL stands for [default: SOURCE, or the export's folder].")
@click.option("--list", "list_", is_flag=True, default=False,
              help="List the sources recorded (pages, image references, when read); read nothing.")
@click.option("--forget", "forget", is_flag=True, default=False,
              help="Drop what SOURCE recorded (SOURCE as given when read; it may be gone now).")
@group_options
@pass_ctx
@user_errors
def pages_cmd(obj: Context, source: str | None, base_url: str | None, files: str | None,
              list_: bool, forget: bool) -> None:
    """Record which pages of a local website copy show which image files.

    SOURCE is a folder (static site build, wget --mirror copy: its .html, .htm, .xhtml
    pages), an HTML file, or a WordPress export (WXR XML; published posts and pages only).
    Anything else is refused; inside a folder, FIFOs, devices and binary files named .html
    are skipped with a note. Reading SOURCE again replaces what was recorded for it, and a
    page is recorded once (by URL). 'imgfind query' then lists, per match, the pages that
    show it; index the image files too.

    \b
    Example:
        imgfind index ~/site/public
        imgfind pages ~/site/public --base-url https://example.com/
        imgfind pages export.xml --files ~/backup/wp-content/uploads
        imgfind pages --list
        imgfind pages --forget ~/site/public
    """
    if list_:
        if source is not None or forget:
            raise ImgfindError("pages --list takes no SOURCE and no --forget")
        _list_sources(obj)
        return
    if source is None:
        raise ImgfindError("pages: give a SOURCE (a folder, an HTML file or a WordPress export),"
                           " or --list")
    if forget:
        if base_url is not None or files is not None:
            raise ImgfindError("pages --forget takes SOURCE only (no --base-url, no --files)")
        if not os.path.exists(obj.db):
            raise ImgfindError(f"{source}: no pages recorded for it (no index at {obj.db})")
        with obj.open() as idx:
            dropped = idx.forget_pages(source)
        if not dropped:
            raise ImgfindError(f"{source}: no pages recorded for it (imgfind pages --list "
                               "shows the sources)")
        obj.say(f"pages: forgot {plural(dropped, 'page')} of {one_line(os.path.abspath(source))}")
        return
    if not os.path.lexists(source):
        raise ImgfindError(f"{source}: no such file or folder")
    with obj.open() as idx:
        reading = idx.read_pages(source, base_url, files)
        shown = [path for page in reading.pages for path, _, _ in page.images]
        absent = idx.not_indexed(shown)
    refs = sum(len({path for path, _, _ in p.images}) for p in reading.pages)
    obj.say(f"pages: {plural(len(reading.pages), 'page')}, {plural(refs, 'image reference')} "
            f"to {plural(len(set(shown)), 'local file')}"
            + (f", {reading.external} to other sites" if reading.external else "")
            + (f", {len(reading.missing)} with no local file" if reading.missing else "")
            + (f", {plural(len(reading.unreadable), 'unreadable page')}" if reading.unreadable else "")
            + (f", {len(reading.skipped)} skipped" if reading.skipped else ""))
    for path, reason in reading.skipped:
        obj.say(f"skipped: {one_line(path)}: {one_line(reason)}")
    for note in reading.notes:
        obj.say(f"note: {one_line(note)}")
    if obj.verbose:
        for url in reading.missing:
            click.echo(f"no local file: {one_line(url)}", err=True)
        for path, reason in reading.unreadable:
            click.echo(f"unreadable: {one_line(path)}: {one_line(reason)}", err=True)
    if absent:
        folder = os.path.commonpath(absent) if len(absent) > 1 else os.path.dirname(absent[0])
        obj.say(f"note: {plural(len(absent), 'image file')} shown on these pages "
                f"{'is' if len(absent) == 1 else 'are'} not indexed yet: "
                f"imgfind index {one_line(folder)}")


def _list_sources(obj: Context) -> None:
    """``pages --list``: one line per recorded source on stdout."""
    from .report.words import iso_time  # noqa: PLC0415

    if not os.path.exists(obj.db):
        obj.say("pages: no index, no pages recorded")
        return
    with obj.open(readonly=True) as idx:
        sources = idx.page_sources()
    if not sources:
        obj.say("pages: no pages recorded (imgfind pages SOURCE reads a site)")
    for path, n, refs, when in sources:
        click.echo(f"{one_line(path)}  {plural(n, 'page')}, {plural(refs, 'image reference')}, "
                   f"read {iso_time(int(when * 1e9))}")


@click.command("info")
@click.argument("image", type=click.Path(readable=False))
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@group_options
@pass_ctx
@user_errors
def info_cmd(obj: Context, image: str, fmt: str) -> None:
    """Show everything imgfind knows about an image: format, fingerprints, who made it
    (EXIF/XMP/IPTC), and its copies and the pages that show them in the index. IMAGE is a
    file, an http(s) URL or - (standard input), as for query.

    \b
    Example:
        imgfind info photo.jpg
    """
    from .info import describe, known
    from .report.text import render_info
    from .sources import gathered

    if os.path.isdir(image):
        raise ImgfindError(f"{image}: a folder; info takes one image (query takes folders)")
    with gathered([image], stdin=getattr(sys.stdin, "buffer", None)) as got:
        (one,) = got.images
        try:
            facts = describe(one.path)
        except ImgfindError as exc:  # name the URL or (stdin), not the scratch file
            if one.name is None:
                raise
            raise ImgfindError(str(exc).replace(one.path, one.name)) from None
        if one.name is not None:
            facts["path"] = one.name
        if os.path.exists(obj.db) and os.path.getsize(obj.db) > 0:  # an empty file: no index yet
            with obj.open(readonly=True) as idx:
                facts["index"] = known(idx, one.path)
        else:
            facts["index"] = None
    if fmt == "json":
        click.echo(json.dumps(facts, indent=1, ensure_ascii=True))
        return
    render_info(facts, sys.stdout)


COMMANDS = (pages_cmd, info_cmd)
