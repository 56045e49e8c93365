"""imgfind export --parquet: the fingerprints as a columnar file other engines read."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import invoke, make_library

from imgfind.errors import ImgfindError
from imgfind.export import write_parquet
from imgfind.index import Index, Settings
from imgfind.indexer import InlineExecutor
from imgfind.layout import N_HASHES
from imgfind.recipe import recipe_id

pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture
def indexed(tmp_path):
    make_library(tmp_path / "photos", 6, copies=2)
    db = tmp_path / "i.db"
    with Index.open(db, Settings(executor=InlineExecutor())) as idx:
        idx.update([tmp_path / "photos"])
    return db


def test_export_holds_every_fingerprint(tmp_path, indexed, runner):
    out = tmp_path / "p.parquet"
    result = invoke(runner, str(indexed), "export", "--parquet", str(out))
    assert result.stderr == f"exported 8 fingerprints to {out}\n"  # the broken file is left out
    table = pq.read_table(out)
    assert table.schema.metadata[b"imgfind.recipe"].decode() == recipe_id()
    columns = json.loads(table.schema.metadata[b"imgfind.hash_columns"])
    assert len(columns) == N_HASHES and columns[0]["hash"] == "phash" and columns[-1]["hash"] == "dhash"
    assert "thumb" not in table.column_names
    with Index.open(indexed, readonly=True) as idx:
        prints = idx.store.load_prints()
        records = idx.store.records(prints.ids.tolist())
    by_path = {os.fsencode(records[int(i)].path): k for k, i in enumerate(prints.ids)}
    rows = table.to_pylist()
    assert sorted(r["path"] for r in rows) == sorted(by_path)
    for r in rows:
        k = by_path[r["path"]]
        assert np.array_equal(np.array(r["hashes"], dtype=np.uint64), prints.hashes[k])
        assert (r["phash"], r["dhash"]) == (int(prints.phash[k]), int(prints.dhash[k]))
        assert np.allclose(r["trim"], prints.trims[k])


def test_export_with_thumbs(tmp_path, indexed, runner):
    out = tmp_path / "p.parquet"
    invoke(runner, str(indexed), "export", "--parquet", str(out), "--thumbs")
    thumbs = pq.read_table(out).column("thumb").to_pylist()
    assert len(thumbs) == 8 and all(len(t) > 1000 for t in thumbs)


def test_unwritable_output_and_missing_pyarrow_are_one_line_errors(tmp_path, indexed, runner,
                                                                   monkeypatch):
    result = invoke(runner, str(indexed), "export", "--parquet",
                    str(tmp_path / "no" / "such" / "p.parquet"), ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot write")
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImgfindError, match=r"pip install pyarrow \(imgfind's 'parquet' extra\)"):
        write_parquet([], tmp_path / "x.parquet")


def test_dash_and_missing_folder_are_named_in_one_line(tmp_path, indexed, runner, monkeypatch):
    # "-" wrote a file named "-"; a missing folder was reported by the temporary file's name
    # in pyarrow's wording.
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, str(indexed), "export", "--parquet", "-", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "not standard output" in result.stderr and not (tmp_path / "-").exists()
    missing = tmp_path / "nonexist"
    result = invoke(runner, str(indexed), "export", "--parquet", str(missing / "x.parquet"), ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert f"folder {missing} does not exist" in result.stderr and ".tmp" not in result.stderr
