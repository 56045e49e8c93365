"""Carry out a plan (with re-checks and a journal) and undo the last one. Side effects.

Before each action the file is checked against the plan: it must exist with the planned size,
mtime and content key, the kept file likewise, the two must be different files, and the file
must match the kept file directly at the strict preset, or at the rule that made the plan's
groups where that is stricter (recheck_rule; pair.match_pair, never through a chain), and the
same way as planned: a file planned as a pHash match within the rule's threshold is not let
through by its dHash alone. A file under a reference folder is never touched, the kept file
never acted on, so a group never loses its last copy. Anything that fails a check is skipped with a message.

Methods and how each is undone:

- trash (default): send2trash (freedesktop trash); undo finds the file in the trash by its
  ``.trashinfo`` and moves it back.
- move: to ``DIR/<path relative to the plan's base>``; undo moves it back.
- hardlink / symlink: the original is first hard-linked (or, across file systems, copied) into
  the holding folder beside the index, then a link to the kept file is made under a temporary
  name in the same folder and renamed over the file: the path always holds one or the other.
  Undo puts the held original back, byte for byte. The held originals keep using their
  space until ``imgfind undo --purge`` deletes them (after which those links cannot be undone).
- delete: unlinked for good; undo says it cannot bring it back.
- --merge-metadata keeps a copy of the kept file in the holding folder before changing it;
  undo puts it back when the kept file has not changed since.
"""

from __future__ import annotations

import errno
import glob
import os
import shlex
import shutil
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ignore as ignore_mod
from . import journal
from .errors import DecodeError, ImgfindError
from .keep import under
from .model import PRESETS, Rule
from .pair import content_key, fingerprint_file, match_pair
from .plan import Plan

METHODS = ("trash", "move", "hardlink", "symlink", "delete")
Say = Callable[[str], None]


def recheck_rule(plan: Plan) -> Rule:
    """The rule apply re-checks each file against its kept file with: the strict preset,
    made stricter where the plan's own rule (the one that made its groups) is stricter in a
    threshold or a bound; never weaker than either. A plan without a rule: the strict preset."""
    strict = PRESETS["strict"]
    made = plan.match_rule
    if made is None:
        return strict
    sim = max(strict.min_similarity or 0.0, made.min_similarity or 0.0)
    return Rule(min(strict.threshold, made.threshold), sim,
                max(strict.min_window, made.min_window), "strict")


@dataclass
class Outcome:
    """What an apply did (or, in a dry run, would do)."""

    done: int = 0
    skipped: int = 0
    ignored: int = 0
    merged: int = 0
    messages: list[str] = field(default_factory=list)
    journal: str | None = None


def q(path: str) -> str:
    return shlex.quote(path)


def _check(path: str, size: int, mtime_ns: int, key: str) -> tuple[str | None, Any]:
    """None and the fresh fingerprint if *path* is as planned, else the reason it is not."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "vanished since the plan", None
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}", None
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        return "changed since the plan (size or time differs)", None
    try:
        _, fp = fingerprint_file(path)
    except DecodeError as exc:
        return f"cannot be read: {exc}", None
    if content_key(fp.hashes) != key:
        return "changed since the plan (fingerprint differs)", None
    return None, fp


def _shell(method: str, path: str, kept: str, dest: str | None) -> str:
    return {"trash": f"trash {q(path)}", "delete": f"rm {q(path)}",
            "move": f"mv {q(path)} {q(dest or '')}",
            "hardlink": f"ln -f {q(kept)} {q(path)}",
            "symlink": f"ln -sf {q(os.path.realpath(kept))} {q(path)}"}[method]


def _dest(plan: Plan, path: str, move_to: str) -> str:
    rel = os.path.relpath(path, plan.base) if plan.base else path
    if rel.startswith(os.pardir):
        rel = path.lstrip(os.sep)
    return os.path.join(os.path.abspath(move_to), rel)


def _move(src: str, dst: str) -> None:
    """Rename, or copy to a temporary name, fsync, rename and unlink across file systems."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "destination exists", dst)
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    part = dst + ".imgfind-part"
    shutil.copy2(src, part)
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    os.rename(part, dst)
    os.unlink(src)


def _hold(src: str, held: str) -> None:
    """Keep *src*'s bytes at *held*: a hard link when possible, else a copy."""
    os.makedirs(os.path.dirname(held), exist_ok=True)
    try:
        os.link(src, held)
    except OSError:
        shutil.copy2(src, held + ".part")
        with open(held + ".part", "rb") as f:
            os.fsync(f.fileno())
        os.rename(held + ".part", held)


def _put_back(held: str, path: str) -> None:
    """Replace *path* (whatever it is now) by the held file, atomically."""
    try:
        os.replace(held, path)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = os.path.join(os.path.dirname(path), f".imgfind-undo-{os.getpid()}.tmp")
        shutil.copy2(held, tmp)
        os.replace(tmp, path)
        os.unlink(held)


# ----------------------------------------------------------------------------- trash
def _trash_dirs(path: str) -> list[str]:
    """Where send2trash may have put *path*: the home trash, then the volume's trash."""
    home = os.path.join(os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"),
                        "Trash")
    dirs = [home]
    try:  # send2trash reads XDG_DATA_HOME once, when imported: look where it looked
        from send2trash import plat_other  # noqa: PLC0415

        dirs.insert(0, plat_other.HOMETRASH)
    except (ImportError, AttributeError):
        pass
    top = os.path.dirname(path)
    while not os.path.ismount(top) and top != os.path.dirname(top):
        top = os.path.dirname(top)
    uid = os.getuid()
    dirs += [os.path.join(top, f".Trash-{uid}"), os.path.join(top, ".Trash", str(uid))]
    return dirs


def find_trashed(path: str) -> tuple[str, str] | None:
    """The newest trashed copy of *path*: (file in Trash/files, its .trashinfo), or None."""
    best: tuple[str, str, str] | None = None
    for trash in _trash_dirs(path):
        for info in glob.glob(os.path.join(glob.escape(trash), "info", "*.trashinfo")):
            try:
                with open(info, encoding="utf-8") as f:
                    lines = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            except (OSError, ValueError):
                continue
            stored = urllib.parse.unquote(lines.get("Path", ""), errors="surrogateescape")
            if not os.path.isabs(stored):
                stored = os.path.join(os.path.dirname(trash), stored)
            if stored == path:
                date = lines.get("DeletionDate", "")
                name = os.path.basename(info)[:-len(".trashinfo")]
                cand = (date, os.path.join(trash, "files", name), info)
                if best is None or cand[0] >= best[0]:
                    best = cand
    return (best[1], best[2]) if best else None


def _trash(path: str) -> tuple[str, str] | None:
    from send2trash import send2trash  # noqa: PLC0415

    send2trash(path)
    return find_trashed(path)


# ----------------------------------------------------------------------------- apply
def apply(plan: Plan, db: str, method: str, *, yes: bool, move_to: str | None = None,
          merge_metadata: bool = False, say: Say = print) -> Outcome:
    """Carry out *plan* with *method* (see METHODS); with ``yes`` False only print.

    Shell-like lines for what is (or would be) done go to *say*, and so do the skips.

    Raises:
        ImgfindError: an unknown method, move without a folder, the journal unwritable.
    """
    if method not in METHODS:
        raise ImgfindError(f"unknown method {method!r}")
    if method == "move" and not move_to:
        raise ImgfindError("--move-to needs a folder")
    strict, made = recheck_rule(plan), plan.match_rule
    at = "the strict preset" if strict == PRESETS["strict"] else \
        "the strict preset and the plan's rule, whichever is stricter"
    refs = [os.path.abspath(r) for r in plan.references]
    out = Outcome()
    writer = None
    if yes:
        writer = journal.Writer(db, {"method": method, "move_to": move_to,
                                     "merge_metadata": merge_metadata, "groups": len(plan.groups)})
        out.journal = writer.path

    def skip(path: str, why: str) -> None:
        out.skipped += 1
        out.messages.append(f"skip {path}: {why}")
        say(f"# skip {q(path)}: {why}")

    try:
        for group in plan.groups:
            acting = [f for f in group.files if f.path != group.kept
                      and (f.action == "remove" or f.ignore)]
            if not acting:
                continue
            kf = group.kept_file()
            why, kept_fp = _check(kf.path, kf.bytes, kf.mtime_ns, kf.fingerprint)
            if why:
                for f in acting:
                    skip(f.path, f"kept file {kf.path} {why}")
                continue
            kept_size, kept_mtime = kf.bytes, kf.mtime_ns
            for f in acting:
                if f.ignore:
                    say(f"imgfind ignore {q(kf.path)} {q(f.path)}")
                    if yes:
                        ignore_mod.add(db, kf.fingerprint, f.fingerprint, kf.path, f.path)
                    out.ignored += 1
                    continue
                if f.reference or under(f.path, refs):
                    skip(f.path, "under a reference folder: never modified")
                    continue
                why, fp = _check(f.path, f.bytes, f.mtime_ns, f.fingerprint)
                if why is None:
                    st = os.stat(kf.path)
                    if (st.st_size, st.st_mtime_ns) != (kept_size, kept_mtime):
                        why = f"kept file {kf.path} changed since the plan"
                    elif os.path.samefile(f.path, kf.path):
                        why = "is the same file as the kept one (already linked): last copy"
                    elif (m := match_pair(kept_fp, fp, strict)) is None:
                        why = f"does not match the kept file directly at {at}"
                    elif made is not None and m.distance > made.threshold and \
                            f.joined_by not in ("dHash", ""):
                        # The same way as planned: its dHash alone does not stand in for a
                        # pHash match the plan showed within the rule's threshold.
                        why = (f"matches the kept file only by its dHash now (pHash distance "
                               f"{m.distance} > {made.threshold}), planned as {f.joined_by}")
                if why:
                    skip(f.path, why)
                    continue
                dest = _dest(plan, f.path, move_to) if method == "move" else None
                if dest is not None and os.path.lexists(dest):
                    skip(f.path, f"{dest} already exists")
                    continue
                if merge_metadata:
                    say(f"imgfind merge-metadata {q(f.path)} {q(kf.path)}")
                    if writer is not None:
                        merged = _merge(writer, kf.path, f.path, say)
                        if merged:
                            st = os.stat(kf.path)
                            kept_size, kept_mtime = st.st_size, st.st_mtime_ns
                            out.merged += 1
                say(_shell(method, f.path, kf.path, dest))
                if writer is None:
                    out.done += 1
                    continue
                try:
                    _act(writer, method, f.path, kf.path, dest)
                    out.done += 1
                except OSError as exc:
                    skip(f.path, f"{exc.strerror or exc}")
    finally:
        if writer is not None:
            writer.close()
    return out


def _merge(writer: journal.Writer, kept: str, source: str, say: Say) -> bool:
    from .metadata import merge  # noqa: PLC0415

    held = os.path.join(writer.holding, f"merge-{writer._step + 1}", os.path.basename(kept))
    step = writer.intent({"op": "merge", "path": kept, "source": source, "held": held})
    os.makedirs(os.path.dirname(held), exist_ok=True)
    shutil.copy2(kept, held)
    try:
        names, where = merge(kept, source)
    except OSError as exc:
        say(f"# metadata of {q(source)} not merged: {exc.strerror or exc}")
        writer.done(step, merged=[], where="")
        return False
    st = os.stat(kept)
    writer.done(step, merged=names, where=where, bytes=st.st_size, mtime_ns=st.st_mtime_ns)
    if names:
        say(f"# merged {', '.join(names)} into {where if where != 'file' else q(kept)}")
    return bool(names) and where == "file"


def _act(writer: journal.Writer, method: str, path: str, kept: str, dest: str | None) -> None:
    if method == "trash":
        step = writer.intent({"op": "trash", "path": path})
        where = _trash(path)
        writer.done(step, trashed=where[0] if where else None, info=where[1] if where else None)
    elif method == "move":
        assert dest is not None
        step = writer.intent({"op": "move", "path": path, "dest": dest})
        _move(path, dest)
        writer.done(step)
    elif method == "delete":
        step = writer.intent({"op": "delete", "path": path})
        os.unlink(path)
        writer.done(step)
    else:
        tmp = os.path.join(os.path.dirname(path), f".imgfind-link-{os.getpid()}-{writer._step + 1}.tmp")
        held = os.path.join(writer.holding, str(writer._step + 1), os.path.basename(path))
        # A symbolic link names the kept file's real path: never a link to a link (a chain).
        target = os.path.realpath(kept)
        step = writer.intent({"op": method, "path": path, "kept": kept, "tmp": tmp, "held": held,
                              "target": target})
        try:
            if method == "hardlink":
                os.link(kept, tmp)
            else:
                os.symlink(target, tmp)
        except OSError:
            writer.done(step, failed=True)
            raise
        _hold(path, held)
        os.replace(tmp, path)
        st = os.lstat(path)  # the link made: undo recognises it even after the kept file moved
        writer.done(step, link_dev=st.st_dev, link_ino=st.st_ino)


# ----------------------------------------------------------------------------- undo
def _lstat(path: str) -> os.stat_result | None:
    """The path's own status (a link is not followed), or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _is_our_link(op: str, rec: dict[str, Any], path: str, here: os.stat_result) -> bool:
    """Whether *path* still holds the link a hardlink/symlink step made, judged on the link
    itself, never on what it points to: the kept file may have moved or gone since."""
    if op == "symlink":
        if not os.path.islink(path):
            return False
        return os.readlink(path) == rec.get("target", os.path.abspath(rec["kept"]))
    if "link_ino" in rec:  # journals from this version on record the hard link's inode
        return (here.st_dev, here.st_ino) == (rec["link_dev"], rec["link_ino"])
    kept = _lstat(rec["kept"])  # older journals: the kept file must still be where it was
    return kept is not None and _same(here, kept)


def _undo_step(rec: dict[str, Any]) -> str:
    """Reverse one journalled step; returns what happened, for the user."""
    op, path, done = rec.get("op"), rec["path"], rec.get("state") == "done"
    if op == "delete":
        if os.path.lexists(path):
            return f"not needed: {path} was not deleted"
        return f"cannot undo: {path} was deleted for good"
    if op == "move":
        dest = rec["dest"]
        if os.path.lexists(dest + ".imgfind-part"):
            os.unlink(dest + ".imgfind-part")
        if not os.path.lexists(dest):
            return f"not needed: {path} was not moved" if os.path.lexists(path) \
                else f"cannot undo: {dest} is gone"
        if os.path.lexists(path):
            return f"cannot undo: {path} exists again; {dest} left where it is"
        _move(dest, path)
        return f"restored {path}"
    if op == "trash":
        if os.path.lexists(path):
            return f"cannot undo: {path} exists again" if done else f"not needed: {path} was not trashed"
        where = (rec.get("trashed"), rec.get("info")) if rec.get("trashed") else find_trashed(path)
        if not where or not where[0] or not os.path.lexists(where[0]):
            return f"cannot undo: {path} is no longer in the trash"
        _move(where[0], path)
        if where[1] and os.path.exists(where[1]):
            os.unlink(where[1])
        return f"restored {path}"
    if op in ("hardlink", "symlink"):
        held, tmp = rec["held"], rec["tmp"]
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if not os.path.lexists(held) and os.path.lexists(held + ".part"):
            os.unlink(held + ".part")
        if not os.path.lexists(held):
            return f"not needed: {path} was not replaced" if os.path.lexists(path) \
                else f"cannot undo: the original of {path} is gone from the holding folder"
        here, original = _lstat(path), _lstat(held)
        if here is not None and original is not None and _same(here, original):
            os.unlink(held)  # killed before the link replaced it: nothing changed
            return f"not needed: {path} was not replaced"
        if here is not None and not _is_our_link(op, rec, path, here):
            return (f"cannot undo: {path} was replaced after the apply (it is no longer the "
                    f"{'symbolic' if op == 'symlink' else 'hard'} link imgfind made); "
                    f"original kept at {held}")
        _put_back(held, path)
        return f"restored {path}"
    if op == "merge":
        held = rec["held"]
        if not os.path.exists(held):
            return f"cannot undo metadata merge: no copy of {path}"
        if not done or "bytes" not in rec:
            os.unlink(held)
            return f"not needed: metadata of {path} was not changed"
        st = os.stat(path) if os.path.exists(path) else None
        if st is None or (st.st_size, st.st_mtime_ns) != (rec["bytes"], rec["mtime_ns"]):
            return f"cannot undo metadata merge: {path} changed since; its old copy is {held}"
        _put_back(held, path)
        return f"restored metadata of {path}"
    return f"cannot undo: unknown step {op!r}"


def undo(db: str, say: Say = print) -> list[str]:
    """Reverse the last apply not yet undone, step by step in reverse order.

    Every step that can be undone is, even when others cannot; the lines returned (one per
    step) start with "cannot" for those that could not (see ``failed``).

    Raises:
        ImgfindError: there is nothing to undo.
    """
    todo = [e for e in journal.entries(db) if not e.undone]
    if not todo:
        raise ImgfindError("nothing to undo")
    entry = todo[-1]
    report = []
    for number in sorted(entry.steps, reverse=True):
        try:
            line = _undo_step(entry.steps[number])
        except OSError as exc:
            line = f"cannot undo: {entry.steps[number].get('path')}: {exc.strerror or exc}"
        report.append(line)
        say(line)
    journal.mark_undone(entry, [{"line": r} for r in report])
    return report


def failed(report: list[str]) -> int:
    """How many lines of an ``undo`` report are steps that could not be undone."""
    return sum(1 for line in report if line.startswith("cannot"))


def history(db: str) -> list[str]:
    """One line per apply: number, time, method, steps done, whether undone."""
    lines = []
    for e in journal.entries(db):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.header.get("time", 0)))
        done = sum(1 for s in e.steps.values() if s.get("state") == "done")
        status = "undone" if e.undone else "applied"
        lines.append(f"{e.number:6d}  {when}  {e.header.get('method', '?'):8s}  "
                     f"{done} done of {len(e.steps)}  {status}")
    return lines


def purge(db: str) -> int:
    """Delete the held originals of every apply: links then free their space for good."""
    folder = os.path.join(journal.act_dir(db), "holding")
    count = 0
    if os.path.isdir(folder):
        for _, _, files in os.walk(folder):
            count += len(files)
        shutil.rmtree(folder)
    return count
