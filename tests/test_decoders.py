"""The decoder registry: who reads which files, what the crawler picks up, drop-in decoders."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import make_image

from imgfind.crawl import CrawlOptions, walk
from imgfind.decode import open_for_hash
from imgfind.decoders import REGISTRY, Decoded, Missing, Registry
from imgfind.decoders.pillow import PILLOW
from imgfind.errors import DecodeError
from imgfind.recipe import RECIPE_VERSION, libraries, recipe_id

HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


class FakeDecoder:
    """A drop-in decoder for a made-up format: magic b"FAKE", extension .fake."""

    name = "fake"

    def extensions(self):
        return frozenset({".fake"})

    def sniff(self, head):
        return head.startswith(b"FAKE")

    def decode(self, fp, st):
        return Decoded(np.full((4, 4), 7, np.uint8), 4, 4, "FAKE", "L", 1, 1, {},
                       st.st_size, st.st_mtime_ns)


def test_pillow_is_the_default_and_reads_by_content():
    assert REGISTRY.decoders[-1] is PILLOW
    assert REGISTRY.pick(b"x.jpg", b"\x89PNG\r\n\x1a\n") is PILLOW
    assert REGISTRY.pick(b"no-extension", b"whatever") is PILLOW


def test_extensions_are_what_the_installed_decoders_read():
    exts = REGISTRY.extensions()
    assert {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".bmp"} <= exts
    assert ".txt" not in exts
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        assert ".heic" not in exts and ".heif" not in exts


def test_a_registered_decoder_is_picked_by_magic_then_by_extension(tmp_path):
    registry = Registry([PILLOW])
    registry.register(FakeDecoder())
    assert ".fake" in registry.extensions() and ".png" in registry.extensions()
    assert registry.pick(b"a.png", b"FAKE....").name == "fake"  # content wins over the name
    assert registry.pick(b"a.fake", b"????").name == "fake"  # then the extension
    assert registry.pick(b"a.png", b"\x89PNG").name == "pillow"


def test_a_known_format_without_decoder_is_named_not_guessed():
    registry = Registry([PILLOW], [Missing(frozenset({".heic"}), ((4, b"ftypheic"),), "install x")])
    assert registry.skip_reason(".heic") == "no decoder for .heic (install x)"
    assert registry.skip_reason(".png") is None and registry.skip_reason(".txt") is None
    with pytest.raises(DecodeError, match=r"no decoder for \.heic \(install x\)"):
        registry.pick(b"photo.heic", b"????")
    with pytest.raises(DecodeError, match=r"no decoder for this format \(\.heic inside\) \(install x\)"):
        registry.pick(b"renamed.jpg", HEIC_HEAD)  # by content too


@pytest.mark.skipif(".heic" in REGISTRY.extensions(), reason="pillow-heif is installed")
def test_heic_files_are_skipped_by_the_crawl_with_a_reason(tmp_path):
    make_image(tmp_path / "a.jpg", seed=1)
    (tmp_path / "b.heic").write_bytes(HEIC_HEAD + b"\0" * 100)
    (tmp_path / "c.HEIF").write_bytes(HEIC_HEAD + b"\0" * 100)
    skipped = []
    found = list(walk([os.fsencode(tmp_path)], CrawlOptions(), skip=lambda p, why: skipped.append(why)))
    assert [os.path.basename(s.path) for s in found] == [b"a.jpg"]
    assert sorted(skipped) == ["no decoder for .heic (pip install imgfind[heic])",
                               "no decoder for .heif (pip install imgfind[heic])"]
    with pytest.raises(DecodeError, match="no decoder for .heic"):
        open_for_hash(tmp_path / "b.heic")  # given by name, it is one clear reason


@pytest.mark.skipif(".heic" in REGISTRY.extensions(), reason="pillow-heif is installed")
def test_index_counts_skipped_heic_files_in_its_summary(tmp_path):
    from click.testing import CliRunner

    from imgfind.cli import cli

    make_image(tmp_path / "a.jpg", seed=1)
    (tmp_path / "b.heic").write_bytes(HEIC_HEAD)
    run = CliRunner().invoke(cli, ["--db", str(tmp_path / "i.db"), "-v", "index", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert "1 new" in run.stderr and "0 unreadable" in run.stderr, run.stderr
    assert "1 skipped: no decoder for .heic (pip install imgfind[heic])" in run.stderr
    assert "skipped: 1 file: no decoder for .heic" in run.stderr  # -v


def test_the_recipe_identity_names_the_version_and_pillow():
    import PIL

    ident = recipe_id()
    assert ident.split()[0] == str(RECIPE_VERSION)
    assert f"pillow={PIL.__version__}" in ident
    assert set(libraries()) == {"pillow"}


def test_fingerprints_of_another_recipe_identity_are_recomputed(tmp_path, monkeypatch):
    from imgfind.index import Index

    make_image(tmp_path / "a.jpg", seed=1)
    with Index.open(tmp_path / "i.db") as idx:
        assert idx.update([tmp_path]).new == 1
        assert idx.update([tmp_path]).unchanged == 1
    import imgfind.indexer
    import imgfind.store

    for module in (imgfind.store, imgfind.indexer):  # a Pillow upgrade, as both modules see it
        monkeypatch.setattr(module, "recipe_id", lambda: "3 pillow=99.0")
    with Index.open(tmp_path / "i.db") as idx:
        stats = idx.update([tmp_path])
        assert (stats.changed, stats.unchanged) == (1, 0)
        assert len(idx.store.load_prints()) == 1
