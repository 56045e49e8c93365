"""A group shown from another of its files keeps the evidence that joined each member
(index._shown_from): the members were verified against the former first file, and say so
when their distance to the new first is beyond the rule's threshold (new-user trial, session
10: a skewed copy at d=12 under "threshold: 10", said to be joined by pHash)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from imgfind.index import _shown_from
from imgfind.layout import N_HASHES
from imgfind.model import FORMER_FIRST_CHECK, FileRecord, Group, Member
from imgfind.report.words import joined_by


def _row(value: int) -> np.ndarray:
    return np.full(N_HASHES, value, dtype=np.uint64)


def test_members_verified_against_a_former_first_say_so_beyond_the_threshold():
    # pHash rows: old first 0, new first 6 bits away, a copy 6 bits away from the old first
    # on other bits (12 from the new first).
    prints = SimpleNamespace(hashes=np.stack([_row(0), _row(0b111111), _row(0b111111 << 6)]))
    rec = [FileRecord(i, f"/p/{n}.jpg", 1000, 0, 64, 48, "JPEG") for i, n in enumerate("abc")]
    group = Group((Member(rec[0], 0, "same orientation"),
                   Member(rec[1], 6, "same orientation", 0.93, ("hash", "similarity")),
                   Member(rec[2], 6, "same orientation", 0.88, ("hash", "similarity"))), 12)
    shown = _shown_from(group, [0, 1, 2], 1, prints)
    assert [(m.file.path, m.distance) for m in shown.members] == [
        ("/p/b.jpg", 0), ("/p/a.jpg", 6), ("/p/c.jpg", 12)]
    assert [joined_by(m, i, 10) for i, m in enumerate(shown.members)] == [
        "first file", "pHash", "former first"]
    # the former first was verified against the new one: the same pair, its evidence
    assert shown.members[1].checks == ("hash", "similarity") and shown.members[1].similarity == 0.93
    assert FORMER_FIRST_CHECK in shown.members[2].checks
