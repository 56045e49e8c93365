"""Torture: mutated images through the whole per-file path (decode + fingerprint).

Zero uncaught exceptions: every mutant is either fingerprinted or gets a one-line reason.
A hypothesis test (fast, derandomized) and a seeded mutation loop with a time budget (slow).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torture_corpus import encode, exif_bytes, record, render_report, tiny_image

from imgfind.analyse import analyse
from imgfind.model import FileStat

SLOW_BUDGET_SECONDS = float(os.environ.get("IMGFIND_FUZZ_SECONDS", "25"))
SLOW_MAX_ITERATIONS = 200_000
#: Mutants every run tries, however long they take (the budget only adds more after them: a
#: loaded machine does the same minimum, slower).
SLOW_MIN_ITERATIONS = 1000


def _seeds() -> dict[str, bytes]:
    """Small valid files of every format and mode the decode path treats specially."""
    base = tiny_image(3, (40, 30))
    exif = exif_bytes(x0112=6, x010e="description", x013b="artist")
    specs = [
        ("JPEG", "RGB", {"exif": exif}), ("JPEG", "CMYK", {}), ("JPEG", "L", {"progressive": True}),
        ("PNG", "RGBA", {}), ("PNG", "I;16", {}), ("PNG", "P", {"transparency": 0}),
        ("PNG", "LA", {}), ("GIF", "P", {"save_all": True, "append_images": [base.rotate(90)]}),
        ("WEBP", "RGB", {}), ("WEBP", "RGBA", {"lossless": True}), ("TIFF", "CMYK", {}),
        ("TIFF", "RGB", {"compression": "tiff_lzw"}), ("TIFF", "F", {}), ("TIFF", "LAB", {}),
        ("TIFF", "RGB", {"save_all": True, "append_images": [base.rotate(90)]}),
        ("BMP", "RGB", {}), ("ICO", "RGBA", {}), ("PPM", "RGB", {}), ("TGA", "RGB", {}),
        ("PCX", "RGB", {}), ("SGI", "RGB", {}), ("DDS", "RGB", {}), ("ICNS", "RGBA", {}),
        ("JPEG2000", "RGB", {}),
    ]
    out = {}
    for fmt, mode, save in specs:
        im = base.convert(mode) if mode != "I;16" else Image.fromarray(
            (np.asarray(base.convert("L"), dtype=np.uint16) * 257))
        try:
            out[f"{fmt}-{mode}"] = encode(im, fmt, **save)
        except (OSError, KeyError, ValueError):  # codec missing from this Pillow build
            continue
    return out


SEEDS = _seeds()
NAMES = sorted(SEEDS)
SPECIAL = (b"\xff\xff", b"\x00\x00", b"\x7f\xff", b"\x80\x00", b"\xff\xff\xff\x7f", b"\x00")


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """A few random byte edits: flips, overwrites, cuts, duplications, boundary values."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        if not buf:
            buf = bytearray(b"\0")
        i = int(rng.integers(0, len(buf)))
        op = int(rng.integers(0, 6))
        if op == 0:
            buf[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1:
            buf[i:i + 4] = rng.bytes(4)
        elif op == 2:
            del buf[i:]
        elif op == 3:
            j = int(rng.integers(0, len(buf)))
            buf[i:i] = buf[j:j + int(rng.integers(1, 128))]
        elif op == 4:
            special = SPECIAL[int(rng.integers(0, len(SPECIAL)))]
            buf[i:i + len(special)] = special
        else:
            del buf[i:i + int(rng.integers(1, 64))]
    return bytes(buf)


def check(path: Path, data: bytes) -> str:
    """Feed one candidate through analyse; return 'ok' or 'reason' (any exception fails)."""
    path.write_bytes(data)
    st = os.stat(path)
    result = analyse(FileStat(os.fsencode(path), st.st_size, st.st_mtime_ns))
    if result.error is None:
        assert result.fingerprint is not None and result.info is not None
        return "fingerprinted"
    assert result.error.strip() and "\n" not in result.error, repr(result.error)
    return "reason"


def test_every_seed_is_valid(tmp_path):
    assert len(SEEDS) >= 15
    for name, data in SEEDS.items():
        assert check(tmp_path / "seed", data) == "fingerprinted", name


FAST_EXAMPLES = 150


@settings(max_examples=FAST_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**32 - 1),
       cut=st.one_of(st.none(), st.floats(0.0, 1.0)))
def test_hypothesis_mutants_never_raise(tmp_path, name, seed, cut):
    data = mutate(SEEDS[name], np.random.default_rng(seed))
    if cut is not None:
        data = data[:int(len(data) * cut)]
    check(tmp_path / "mutant", data)


def test_hypothesis_figures_are_in_the_torture_report():
    """The figures are printed (pytest -s) and rendered by the run itself, never committed."""
    record("fuzzing", **{"hypothesis examples (fast, derandomized)": FAST_EXAMPLES,
                         "seed formats/modes": len(SEEDS)})
    report = render_report()
    assert report.startswith("# Torture suite figures")
    assert "## fuzzing" in report
    assert f"- hypothesis examples (fast, derandomized): {FAST_EXAMPLES}" in report
    assert f"- seed formats/modes: {len(SEEDS)}" in report


@pytest.mark.slow
def test_seeded_mutation_loop_for_a_bounded_time(tmp_path):
    rng = np.random.default_rng(20240605)
    outcomes: Counter = Counter()
    per_format: Counter = Counter()
    path = tmp_path / "mutant"
    start = time.monotonic()
    n = 0
    while n < SLOW_MIN_ITERATIONS or (n < SLOW_MAX_ITERATIONS
                                      and time.monotonic() - start < SLOW_BUDGET_SECONDS):
        name = NAMES[n % len(NAMES)]
        data = mutate(SEEDS[name], rng)
        try:
            outcomes[check(path, data)] += 1
        except Exception as exc:  # keep the mutant for a regression test, then fail
            keep = Path(os.environ.get("IMGFIND_FUZZ_KEEP", str(tmp_path))) / f"crash-{name}.bin"
            keep.write_bytes(data)
            raise AssertionError(f"{name} mutant #{n} raised {exc!r}; saved as {keep}") from exc
        per_format[name.split("-")[0]] += 1
        n += 1
    elapsed = time.monotonic() - start
    assert n >= SLOW_MIN_ITERATIONS  # by construction: the count no longer depends on speed
    record("fuzzing", **{
        "seeded mutation loop iterations": n,
        "time budget": f"{elapsed:.1f} s (IMGFIND_FUZZ_SECONDS={SLOW_BUDGET_SECONDS:g})",
        "outcomes": dict(outcomes),
        "uncaught exceptions": 0})


# Mutants the fuzzer found before decode.py caught them; kept as regression tests.
def test_regression_corrupt_dds_is_a_reason_not_a_crash(tmp_path):
    data = bytearray(SEEDS["DDS-RGB"])
    data[80:84] = b"\0\0\0\0"  # pixel format flags: Pillow raises NotImplementedError
    assert check(tmp_path / "x.dds", bytes(data)) == "reason"
