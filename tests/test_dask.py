"""Fingerprinting on a real Dask cluster (``dask.distributed.LocalCluster``, 2 worker
processes): the same index as a local run, workers that die mid-batch lose and duplicate
nothing, a file that kills every worker reading it is isolated and recorded as unreadable."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from helpers import dump_index, invoke, make_library

from imgfind.analyse import CRASH_ENV, crashed_batch
from imgfind.dask_executor import DaskExecutor, scheduler_executor
from imgfind.errors import ImgfindError
from imgfind.index import Index, Settings
from imgfind.indexer import InlineExecutor

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402  (installed with distributed)

#: Seconds to wait for workers to (re)start: a restarted worker took over 120 s on the shared
#: 2-core machine at load 11, seconds when idle; only a worker that never comes takes this.
WORKERS_WAIT = 600


@pytest.fixture(scope="module")
def cluster():
    # One death is enough to give up on a task (the default 3 would make the poison test
    # wait for 8 worker restarts instead of 4); the isolation logic is the same.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, memory_limit="1GiB") as lc:
            yield lc


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=WORKERS_WAIT)
        yield c


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lib") / "photos"
    make_library(folder, 36)
    return folder


@pytest.fixture(scope="module")
def local_dump(library, tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("local") / "local.db"
    with Index.open(db, Settings(executor=InlineExecutor())) as idx:
        idx.update([library])
    return dump_index(db)


class Counting:
    """Wraps an executor and counts every result that reaches the index, by path."""

    def __init__(self, inner):
        self.inner = inner
        self.seen: dict[bytes, int] = {}
        self.workers = inner.workers

    def map_batches(self, fn, batches):
        for results in self.inner.map_batches(fn, batches):
            for r in results:
                self.seen[r.stat.path] = self.seen.get(r.stat.path, 0) + 1
            yield results


def _crash_env(client, value: str | None) -> None:
    """Set the test crash hook in this process (inherited by restarted workers) and in the
    running workers."""
    def put(v):
        if v is None:
            os.environ.pop(CRASH_ENV, None)
        else:
            os.environ[CRASH_ENV] = v

    put(value)
    client.run(put, value)


def _run(db: Path, library: Path, client, **settings) -> tuple[object, Counting]:
    executor = Counting(DaskExecutor(client=client, on_poison=crashed_batch))
    with Index.open(db, Settings(executor=executor, **settings)) as idx:
        stats = idx.update([library])
    return stats, executor


def test_cluster_index_equals_local_index(tmp_path, library, local_dump, client):
    stats, counting = _run(tmp_path / "d.db", library, client, batch_files=4, commit_every=8)
    assert dump_index(tmp_path / "d.db") == local_dump
    assert stats.new == len(local_dump) - 1 and stats.unreadable == 1  # each file counted once
    assert set(counting.seen.values()) == {1}
    # incremental: a second run reads nothing, a changed file is read again
    again, counting = _run(tmp_path / "d.db", library, client)
    assert (again.new, again.changed, again.unchanged, again.unreadable) == (0, 0, len(local_dump) - 1, 1)
    assert counting.seen == {}


def test_worker_dying_mid_batch_loses_and_duplicates_nothing(tmp_path, library, local_dump,
                                                             client):
    victim = sorted(library.glob("p0*.jpg"))[10]  # inside a batch, after files already read
    _crash_env(client, f"{victim}:{tmp_path / 'crashed-once'}")
    try:
        stats, counting = _run(tmp_path / "d.db", library, client, batch_files=6)
    finally:
        _crash_env(client, None)
    assert (tmp_path / "crashed-once").exists()  # a worker really died
    assert dump_index(tmp_path / "d.db") == local_dump
    assert counting.seen == dict.fromkeys(local_dump, 1)
    assert stats.unreadable == 1  # only broken.jpg


def test_sigkilled_worker_loses_and_duplicates_nothing(tmp_path, library, local_dump, client):
    pids = list(client.run(os.getpid).values())
    killed = []

    def on_progress(_n):
        if not killed:  # the first commit: the run is under way
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    counting = Counting(DaskExecutor(client=client))
    settings = Settings(executor=counting, batch_files=2, commit_every=1)
    with Index.open(tmp_path / "d.db", settings) as idx:
        idx.update([library], on_progress=on_progress)
    assert killed
    assert dump_index(tmp_path / "d.db") == local_dump
    assert counting.seen == dict.fromkeys(local_dump, 1)
    client.wait_for_workers(2, timeout=WORKERS_WAIT)


@pytest.fixture
def own_client():
    """A cluster of its own for the test that kills workers again and again: a nanny may give
    up restarting a worker that dies while starting, which must not shrink the shared one.
    Both workers are down at once between restarts; a restart took over 60 s at load 11, so
    the run waits for workers as long as a real fault needs to show (Dask's no-workers-timeout,
    read by the executor made inside this configuration)."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.no-workers-timeout": "600s"}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, memory_limit="1GiB") as lc:
            with distributed.Client(lc) as c:
                c.wait_for_workers(2, timeout=WORKERS_WAIT)
                yield c


def test_file_that_kills_every_worker_is_isolated_and_unreadable(tmp_path, library, local_dump,
                                                                 own_client):
    # The hostile file is outside the shared library: a worker started while the hook was
    # set cannot trouble the other tests.
    client = own_client
    extra = tmp_path / "extra"
    make_library(extra, 5, copies=0, seed=3000)
    (extra / "broken.jpg").unlink()
    hostile = extra / "p002.jpg"
    _crash_env(client, str(hostile))
    try:
        executor = Counting(DaskExecutor(client=client, on_poison=crashed_batch))
        with Index.open(tmp_path / "d.db", Settings(executor=executor, batch_files=6)) as idx:
            stats = idx.update([library, extra])
    finally:
        _crash_env(client, None)
    dumped = dump_index(tmp_path / "d.db")
    assert executor.inner.poisoned and executor.inner.poisoned[0].path == os.fsencode(hostile)
    assert set(executor.seen.values()) == {1} and len(executor.seen) == len(local_dump) + 5
    reason = dumped[os.fsencode(hostile)][3]
    assert reason == "crashed the worker that read it (killed Dask workers repeatedly)"
    assert dumped[os.fsencode(hostile)][11] is None  # no fingerprint
    assert {p: row for p, row in dumped.items() if p in local_dump} == local_dump
    assert all(dumped[os.fsencode(extra / f"p00{i}.jpg")][3] is None for i in (0, 1, 3, 4))
    assert stats.unreadable == 2  # broken.jpg and the hostile file


def test_cli_scheduler_option_and_env(tmp_path, library, local_dump, cluster, runner,
                                      monkeypatch):
    db = str(tmp_path / "cli.db")
    result = invoke(runner, db, "index", str(library), "--scheduler", cluster.scheduler_address)
    assert "indexed: 40 new, 0 changed, 0 unchanged, 0 removed, 1 unreadable" in result.stderr
    assert dump_index(db) == local_dump
    monkeypatch.setenv("IMGFIND_SCHEDULER", cluster.scheduler_address)
    result = invoke(runner, db, "index", str(library))
    assert "Dask" in result.stderr and "40 unchanged, 0 removed, 1 unreadable" in result.stderr


def test_unreachable_scheduler_is_one_line_error(tmp_path, runner, library):
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = invoke(runner, str(tmp_path / "x.db"), "index", str(library), "--scheduler",
                        "tcp://127.0.0.1:9", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert "Traceback" not in result.output


def test_local_cluster_from_the_cli(tmp_path, library, local_dump, runner):
    db = str(tmp_path / "cli.db")
    result = invoke(runner, db, "index", str(library), "--scheduler", "local:2")
    assert "fingerprinting on a local Dask cluster of 2 worker processes (1 thread each)" in result.stderr
    assert dump_index(db) == local_dump


def test_missing_distributed_is_one_line_error(monkeypatch, tmp_path, runner, library):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "distributed":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImgfindError, match=r"pip install distributed \(imgfind's 'dask' extra\)"):
        scheduler_executor("local:2")
    result = invoke(runner, str(tmp_path / "x.db"), "index", str(library), "--scheduler",
                    "local:2", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "pip install distributed (imgfind's 'dask' extra)" in result.stderr
    monkeypatch.delenv("IMGFIND_SCHEDULER", raising=False)
    assert scheduler_executor(None) is None  # without a scheduler nothing changes


class WorkersGoAway:
    """Wraps a DaskExecutor: once the first batch's results are back, the cluster loses every
    worker (as when nannies give up restarting workers the OOM killer keeps killing)."""

    def __init__(self, inner, cluster):
        self.inner, self.cluster, self.yielded = inner, cluster, 0
        self.workers = inner.workers

    def map_batches(self, fn, batches):
        for results in self.inner.map_batches(fn, batches):
            if not self.yielded:
                self.cluster.scale(0)
            self.yielded += len(results)
            yield results


def test_cluster_left_without_workers_stops_and_keeps_what_was_read(tmp_path, library):
    # Threads rather than processes: the cluster starts in a fraction of a second; losing
    # its workers is the same to the scheduler.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as lc, distributed.Client(lc) as c:
        c.wait_for_workers(1, timeout=WORKERS_WAIT)
        executor = WorkersGoAway(DaskExecutor(client=c, no_workers_timeout=1.0), lc)
        settings = Settings(executor=executor, batch_files=2, commit_every=10_000,
                            commit_seconds=3600)

        def run():
            with Index.open(tmp_path / "d.db", settings) as idx:
                idx.update([library])

        error = _run_in_thread(run)
    assert isinstance(error, ImgfindError)
    assert "no worker for 1 s" in str(error) and "run the same command again" in str(error)
    # What came back before the workers went is saved (never committed otherwise: the
    # commit thresholds were not reached), so the next run resumes after it.
    assert 0 < executor.yielded < 41
    assert len(dump_index(tmp_path / "d.db")) == executor.yielded


def test_dedupe_paths_fingerprints_on_the_scheduler_of_the_environment(
        tmp_path, library, local_dump, cluster, runner, monkeypatch):
    # dedupe PATHS indexes PATHS first: IMGFIND_SCHEDULER was silently ignored there.
    db = str(tmp_path / "cli.db")
    monkeypatch.setenv("IMGFIND_SCHEDULER", cluster.scheduler_address)
    result = invoke(runner, db, "dedupe", str(library), "-j", "3")
    assert f"fingerprinting on the Dask scheduler at {cluster.scheduler_address}" in result.stderr
    assert "warning: -j 3 is ignored with IMGFIND_SCHEDULER" in result.stderr
    assert dump_index(db) == local_dump


def test_nothing_to_fingerprint_starts_no_local_cluster(tmp_path, library, local_dump):
    db = tmp_path / "d.db"
    with Index.open(db, Settings(executor=InlineExecutor())) as idx:
        idx.update([library])
    executor = scheduler_executor("local:1")
    with executor, Index.open(db, Settings(executor=executor)) as idx:
        stats = idx.update([library])
        assert executor._cluster is None and executor.client is None  # no process started
    assert stats.unchanged + stats.unreadable == len(local_dump) and stats.new == 0
    assert executor.describe() == "a local Dask cluster of 1 worker process (1 thread each)"


# ----------------------------------------------------------------------------- timeouts
def test_timeouts_are_dasks_configuration(monkeypatch):
    """A Dask user sets timeouts in Dask's configuration (YAML, DASK_* variables); imgfind
    reads the same keys: a cluster that scales up from zero gets the time its user gave."""
    with dask.config.set({"distributed.comm.timeouts.connect": "2s",
                          "distributed.scheduler.no-workers-timeout": "10m"}):
        executor = DaskExecutor("tcp://127.0.0.1:9")
    assert (executor.connect_timeout, executor.no_workers_timeout) == (2.0, 600.0)
    monkeypatch.setenv("DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT", "90s")
    dask.config.refresh()
    try:
        assert DaskExecutor("local:1").no_workers_timeout == 90.0
    finally:
        monkeypatch.delenv("DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT")
        dask.config.refresh()
    with dask.config.set({"distributed.scheduler.no-workers-timeout": None}):
        assert DaskExecutor("local:1").no_workers_timeout == 60.0  # Dask's null: imgfind's 60 s
    assert DaskExecutor("local:1", no_workers_timeout=5).no_workers_timeout == 5  # the API's


@pytest.mark.parametrize("value", ["soon", "-5s", 0])
def test_a_timeout_that_is_not_a_duration_is_one_line_error(tmp_path, runner, library, value):
    with dask.config.set({"distributed.scheduler.no-workers-timeout": value}):
        result = invoke(runner, str(tmp_path / "x.db"), "index", str(library), "--scheduler",
                        "local:1", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "distributed.scheduler.no-workers-timeout" in result.stderr


def _run_in_thread(fn):
    """fn() on a thread, its outcome (None or the exception) back; fails if it hangs (runs
    past WORKERS_WAIT: the no-worker timeouts of these tests are far shorter)."""
    import threading

    outcome: list[BaseException | None] = []

    def run():
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WORKERS_WAIT)
    assert not thread.is_alive(), "hung on a cluster without workers"
    return outcome[0]


def test_configured_no_workers_timeout_stops_a_cluster_left_without_workers(tmp_path, library):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as lc, distributed.Client(lc) as c:
        c.wait_for_workers(1, timeout=WORKERS_WAIT)
        with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
            executor = WorkersGoAway(DaskExecutor(client=c), lc)
        settings = Settings(executor=executor, batch_files=2)

        def index():
            with Index.open(tmp_path / "d.db", settings) as idx:
                idx.update([library])

        exc = _run_in_thread(index)
    assert isinstance(exc, ImgfindError) and "no worker for 1 s" in str(exc), exc


def test_cluster_scaling_up_from_zero_is_waited_for(tmp_path, library):
    """No worker when the run starts; the first joins a moment later, within the timeout."""
    import threading

    with distributed.LocalCluster(n_workers=0, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as lc, distributed.Client(lc) as c:
        with dask.config.set({"distributed.scheduler.no-workers-timeout": f"{WORKERS_WAIT}s"}):
            executor = DaskExecutor(client=c)
        timer = threading.Timer(1.5, lc.scale, (1,))
        timer.start()
        got = []
        exc = _run_in_thread(lambda: got.extend(executor.map_batches(len, [[1, 2], [3]])))
        timer.join()
    assert exc is None and sorted(got) == [1, 2]


def test_scheduler_failing_tasks_for_want_of_workers_is_one_line_error():
    """A scheduler whose own configuration sets no-workers-timeout fails the tasks itself
    (NoValidWorkerError): the run stops as when imgfind counts (not with a traceback)."""
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}):
        with distributed.LocalCluster(n_workers=0, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as lc, distributed.Client(lc) as c:
            executor = DaskExecutor(client=c, no_workers_timeout=3600)  # imgfind never counts out
            exc = _run_in_thread(lambda: list(executor.map_batches(len, [[1, 2], [3]])))
    assert isinstance(exc, ImgfindError), repr(exc)
    assert "no worker for 1 s" in str(exc) and "\n" not in str(exc)
