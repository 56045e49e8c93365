"""Fingerprinting on a Dask cluster: an ``indexer.Executor`` over ``dask.distributed``.

The client (the process running ``imgfind index``) crawls, diffs against the index and stays
the only SQLite writer; the workers only run ``analyse.analyse_batch`` on batches of paths
they can open (a shared file system). Results stream back in the order they finish
(``distributed.as_completed``) with a bounded number of batches in flight.

Worker death is Dask's to handle: the scheduler re-runs the tasks of a worker that died on
another worker. A task that was running on ``allowed-failures + 1`` workers that died
(``distributed.scheduler.allowed-failures``, 3 by default) fails with ``KilledWorker``. A
worker runs more than one task at a time (threads, and tasks queued on it), so the task that
failed may be innocent: this module then isolates the culprit by running every file of that
batch alone, one after the other, once the rest of the run is done, with nothing else in
flight. A file that still kills workers when it is the only task is the culprit: it is
recorded through *on_poison* (for imgfind: unreadable, "crashed the worker that read it")
and never submitted again; the innocent files of the batch succeed. Running the files one
by one rather than halving the batch costs a few tens of milliseconds per file but one
round of worker deaths (allowed-failures + 1), which is what is slow (a restart takes about
a second) and which halving would repeat log2(batch) times.

``distributed`` is an optional dependency (imgfind's ``dask`` extra); nothing here
imports it before an executor is made.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .cores import usable_cores
from .errors import ImgfindError, extra_hint

T = TypeVar("T")
R = TypeVar("R")

#: The environment variable read when ``imgfind index`` gets no --scheduler.
SCHEDULER_ENV = "IMGFIND_SCHEDULER"
#: Batches in flight per worker thread: enough to keep workers busy while results travel.
IN_FLIGHT_PER_THREAD = 4
#: Dask's configuration key for the seconds to wait for a scheduler to answer (Dask's default
#: 30 s; env DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT): what every Dask client waits.
CONNECT_KEY = "distributed.comm.timeouts.connect"
#: Seconds to wait for a scheduler when Dask's configuration has no CONNECT_KEY.
CONNECT_TIMEOUT = 30.0
#: The most worker processes ``local:N`` starts (as many as ``-j`` allows).
MAX_LOCAL_WORKERS = 512
#: Seconds a cluster may have no worker at all while work is pending before the run stops
#: (workers killed faster than their nannies restart them, the OOM killer, a cluster scaled to
#: zero): long enough for a nanny's restart (about a second) or a worker joining, and bounded
#: so that a dead cluster ends the run instead of hanging it. Used when Dask's configuration
#: leaves NO_WORKERS_KEY unset (null, Dask's default: wait for ever).
NO_WORKERS_TIMEOUT = 60.0
#: Dask's configuration key for how long a task may wait with no worker to run it ("10m";
#: env DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT). Dask's scheduler fails such tasks
#: after it (NoValidWorkerError), and Dask tells users of adaptive clusters to set it above
#: the time workers take to start: a cluster that scales up from zero needs it. imgfind waits
#: as long (its own count, in the client, so that a scheduler without the key is bounded too).
NO_WORKERS_KEY = "distributed.scheduler.no-workers-timeout"
#: What the scheduler fails a task with after NO_WORKERS_KEY: no worker at all, or none that
#: meets the task's restrictions (distributed.scheduler; both carry .timeout).
NO_WORKER_ERRORS = frozenset({"NoWorkerError", "NoValidWorkerError"})
#: Seconds between checks of the cluster's workers while waiting for a result.
POLL_SECONDS = 1.0
#: The protocols a scheduler address may name (Dask's UCX and in-process transports are not
#: for a client in another process: inproc:// only exists inside one).
PROTOCOLS = ("tcp", "tls")
_LOCAL = re.compile(r"local(?::(.*))?$")


def parse_scheduler(text: str) -> int | None:
    """Check a scheduler address before anything connects or starts: return N for
    ``local:N`` (0 for ``local`` alone: one worker process per core), None for a scheduler
    address (``tcp://host:8786``, ``host:8786``, ``tls://host:8786``; Dask's own check
    follows on connecting).

    Raises:
        ValueError: empty; ``local:N`` with N not a whole number in 1..MAX_LOCAL_WORKERS; a
            protocol other than PROTOCOLS; no host or no port; a port that is not a number
            in 1..65535. The message says what is expected.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty; give a scheduler address like tcp://host:8786, or local:N")
    local = _LOCAL.match(text)
    if local:
        n = local.group(1)
        if n is None:
            return 0
        if not n.isdigit() or not 1 <= int(n) <= MAX_LOCAL_WORKERS:
            raise ValueError(f"{text!r}: local:N needs a whole number of worker processes N "
                             f"from 1 to {MAX_LOCAL_WORKERS} (local:2), or 'local' for one per core")
        return int(n)
    scheme, sep, rest = text.rpartition("://")
    scheme = scheme.lower() if sep else "tcp"
    if scheme not in PROTOCOLS:
        raise ValueError(f"{text!r}: the protocol {scheme}:// is not supported; give "
                         "tcp://host:port (tls://host:port with Dask's TLS settings), or local:N")
    host, colon, port = rest.rpartition(":")
    if not colon or not host or host.endswith("[") or (host.startswith("[") != host.endswith("]")):
        raise ValueError(f"{text!r}: no host and port; give a scheduler address like "
                         "tcp://host:8786, or local:N")
    if not port.isdigit():
        raise ValueError(f"{text!r}: the port {port!r} is not a number; give a scheduler "
                         "address like tcp://host:8786, or local:N")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port {port} is out of range (1 to 65535)")
    return None


@dataclass(frozen=True, slots=True)
class SchedulerAddress:
    """A scheduler address checked once (parse_scheduler): *text* as given, *local* the N of
    ``local:N`` (0: one worker per core) or None for a scheduler to connect to."""

    text: str
    local: int | None

    @classmethod
    def parse(cls, text: str) -> SchedulerAddress:
        """Raises ValueError as parse_scheduler."""
        return cls(text, parse_scheduler(text))


def _distributed(given_as: str = "--scheduler") -> Any:
    try:
        import distributed
    except ImportError:
        raise ImgfindError(f"{given_as} needs Dask's distributed package: "
                           + extra_hint("distributed", "dask")) from None
    return distributed


class DaskExecutor:
    """Run batches on a Dask cluster; use as a context manager (it connects on enter).

    Args:
        address: a scheduler address (``tcp://host:8786``), or ``local:N`` to start a
            ``LocalCluster`` of N worker processes with one thread each (``local`` alone:
            one per core); as text, or a SchedulerAddress already checked. Ignored when
            *client* is given.
        client: an existing ``distributed.Client`` to use (not closed on exit).
        on_poison: makes the result of a batch of one item that killed workers repeatedly
            (its argument: the batch and a reason); by default the exception is raised.
        connect_timeout: seconds to wait for the scheduler to answer; by default Dask's
            configuration (CONNECT_KEY; CONNECT_TIMEOUT without it).
        no_workers_timeout: seconds the cluster may have no worker while work is pending
            before map_batches raises ImgfindError; by default Dask's configuration
            (NO_WORKERS_KEY) when set, else NO_WORKERS_TIMEOUT.

    Raises:
        ImgfindError: the address is malformed, or a timeout in Dask's configuration is not a
            duration; on enter: distributed is not installed, or the scheduler cannot be
            reached.
    """

    def __init__(self, address: str | SchedulerAddress | None = None, *, client: Any = None,
                 on_poison: Callable[[Sequence[Any], str], Any] | None = None,
                 connect_timeout: float | None = None,
                 no_workers_timeout: float | None = None):
        if address is None and client is None:
            raise ImgfindError("a Dask executor needs a scheduler address or a client")
        self._address = None
        if isinstance(address, str):
            try:
                address = SchedulerAddress.parse(address)
            except ValueError as exc:
                raise ImgfindError(f"scheduler {exc}") from None
        if client is None:
            self._address = address
        self.address = address.text if address is not None else None
        self.client = client
        self.on_poison = on_poison
        self.connect_timeout = connect_timeout or configured_seconds(CONNECT_KEY, CONNECT_TIMEOUT)
        self.no_workers_timeout = (no_workers_timeout if no_workers_timeout is not None
                                   else configured_seconds(NO_WORKERS_KEY, NO_WORKERS_TIMEOUT))
        self._own_client = client is None
        self._cluster: Any = None
        self._local_workers = 0
        self._log_level: int | None = None
        #: Files isolated because they killed workers (for reports and tests).
        self.poisoned: list[Any] = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> DaskExecutor:
        """Connect to the scheduler; a local cluster is only planned here and started by the
        first batch (an incremental run with nothing to fingerprint starts no processes)."""
        if self.client is not None:
            return self
        distributed = _distributed()
        assert self._address is not None
        local = self._address.local
        if local is not None:
            self._local_workers = local or usable_cores()
            return self
        try:
            self._check_tls(distributed)
            self.client = distributed.Client(self.address, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise self._unreachable(exc) from None
        return self

    def _start_local(self, distributed: Any) -> None:
        # imgfind owns stderr: Dask's log lines (a worker restarted, a nanny killing a slow
        # worker at shutdown, a killed worker's heartbeat traceback) are kept below CRITICAL,
        # here and in the workers (silence_logs); imgfind says itself what failed. The
        # dashboard takes a free local port ("127.0.0.1:0"), since None still starts the
        # HTTP server on 8787 and warns when it is taken.
        self._quiet_dask()
        try:
            self._cluster = distributed.LocalCluster(
                n_workers=self._local_workers, threads_per_worker=1, processes=True,
                dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self._cluster)
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> ImgfindError:
        return ImgfindError(f"cannot reach the Dask scheduler at {self.address}: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")

    def _quiet_dask(self) -> None:
        """Raise distributed's loggers in this process to CRITICAL until close()."""
        logger = logging.getLogger("distributed")
        self._log_level = logger.level
        logger.setLevel(logging.CRITICAL)

    def _check_tls(self, distributed: Any) -> None:
        """A tls:// address needs Dask's TLS settings (without them Client raises TypeError)."""
        assert self.address is not None
        if not self.address.lower().startswith("tls://"):
            return
        if distributed.Security().get_connection_args("client").get("ssl_context") is None:
            raise ImgfindError(f"{self.address} needs Dask's TLS settings: set "
                               "distributed.comm.tls.ca-file, .client.cert and .client.key in "
                               "Dask's configuration (or DASK_DISTRIBUTED__COMM__TLS__* variables)")

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client and self.client is not None:
            try:
                self.client.close()
            except Exception:  # closing is best effort; the run's result is what counts
                pass
            self.client = None
        if self._cluster is not None:
            try:
                self._cluster.close()
            except Exception:
                pass
            self._cluster = None
        if self._log_level is not None:
            logging.getLogger("distributed").setLevel(self._log_level)
            self._log_level = None

    def describe(self) -> str:
        """What runs the work, for the user: "a local Dask cluster of 2 worker processes (1
        thread each)" or "the Dask scheduler at ADDRESS (3 workers, 12 threads)"."""
        nthreads = self.client.nthreads() if self.client is not None else {}
        workers, threads = len(nthreads), sum(nthreads.values())
        if self._local_workers:  # a local cluster, started or still to start
            n = self._local_workers
            return f"a local Dask cluster of {n} worker process{'es' if n != 1 else ''} (1 thread each)"
        return (f"the Dask scheduler at {self.address or 'the given client'} ({workers} "
                f"worker{'s' if workers != 1 else ''}, {threads} thread{'s' if threads != 1 else ''})")

    @property
    def workers(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        if self.client is None:
            return max(1, self._local_workers)  # a local cluster not started yet: as planned
        return max(1, sum(self.client.nthreads().values()))

    # ------------------------------------------------------------------ the work
    def map_batches(self, fn: Callable[[Sequence[T]], R], batches: Iterable[Sequence[T]]
                    ) -> Iterator[R]:
        """Yield ``fn(batch)`` for every batch, in the order batches finish.

        A batch that fails with ``KilledWorker`` is split into single items, run one at a
        time with nothing else in flight after the other batches; an item that fails so is
        given to *on_poison* (or ImgfindError is raised). Any other exception from *fn* is
        raised here. Closing the iterator cancels what is pending. Raises ImgfindError when
        the cluster has had no worker for ``no_workers_timeout`` seconds while work is
        pending (the results yielded before stay valid: the caller saves them).
        """
        distributed = _distributed()
        queue = iter(batches)
        if self.client is None and self._local_workers:
            first = next(queue, None)
            if first is None:
                return  # nothing to do: no cluster started
            self._start_local(distributed)
            queue = itertools.chain([first], queue)
        if self.client is None:
            raise ImgfindError("the Dask executor is not connected (use it as a context manager)")
        client = self.client
        window = IN_FLIGHT_PER_THREAD * self.workers
        suspects: list[Sequence[T]] = []  # items of killed batches, to run alone
        alone: Any = None  # the future of the one item running with nothing beside it
        done = distributed.as_completed()
        inflight: dict[Any, Sequence[T]] = {}  # future -> its batch (to split if it kills)

        def submit(batch: Sequence[T]) -> Any:
            # pure=False: every submission is a task of its own; a resubmitted item is not
            # mistaken for the failed task with the same arguments.
            future = client.submit(fn, batch, pure=False)
            done.add(future)
            inflight[future] = batch
            return future

        try:
            while True:
                while alone is None and len(inflight) < window:
                    batch = next(queue, None)
                    if batch is None:
                        break
                    submit(batch)
                if not inflight and suspects:
                    alone = submit(suspects.pop(0))
                if not inflight:
                    return
                self._wait_any(distributed, inflight)
                future = next(done)
                batch = inflight.pop(future)
                was_alone, alone = future is alone, (None if future is alone else alone)
                if future.status == "error":
                    exc = future.exception()
                    if type(exc).__name__ in NO_WORKER_ERRORS:
                        # The scheduler's own no-workers-timeout (its configuration's
                        # NO_WORKERS_KEY) failed the task: the same end as imgfind's count.
                        timeout = getattr(exc, "timeout", None)
                        raise self._no_workers(timeout if isinstance(timeout, (int, float))
                                               else self.no_workers_timeout) from None
                    if not isinstance(exc, distributed.KilledWorker):
                        future.result()  # raises fn's own error as it is
                    if not was_alone:
                        # Workers running this batch died, but maybe for another task on
                        # the same worker: run each file alone, once the rest is done.
                        suspects.extend([item] for item in batch)
                        continue
                    self.poisoned.append(batch[0])
                    if self.on_poison is None:
                        raise ImgfindError(f"a task killed Dask workers repeatedly: {exc}")
                    yield self.on_poison(batch, "crashed the worker that read it "
                                         "(killed Dask workers repeatedly)")
                    continue
                result = future.result()
                future.release()
                yield result
        finally:
            done.clear()
            if inflight:
                client.cancel(list(inflight))

    def _wait_any(self, distributed: Any, inflight: dict[Any, Any]) -> None:
        """Return once one of *inflight* is done; checking the cluster every POLL_SECONDS.

        Raises:
            ImgfindError: no worker for no_workers_timeout seconds (tasks wait forever for a
                worker that never comes, e.g. once nannies give up restarting killed workers),
                or the scheduler is gone.
        """
        assert self.client is not None
        since: float | None = None
        while True:
            try:
                distributed.wait(list(inflight), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                return
            except TimeoutError:
                pass
            try:
                workers = len(self.client.nthreads())
            except (OSError, TimeoutError) as exc:
                raise ImgfindError(f"lost the Dask scheduler at {self.address or 'the given client'}"
                                   f" ({type(exc).__name__}); what was fingerprinted is saved: "
                                   "run the same command again to resume") from None
            if workers:
                since = None
                continue
            now = time.monotonic()
            since = now if since is None else since
            if now - since >= self.no_workers_timeout:
                raise self._no_workers(self.no_workers_timeout)

    @staticmethod
    def _no_workers(seconds: float) -> ImgfindError:
        return ImgfindError(
            f"the Dask cluster has had no worker for {seconds:g} s (workers killed and not "
            "restarted: out of memory? a cluster that starts workers slowly: raise Dask's "
            f"{NO_WORKERS_KEY}); stopped. What was fingerprinted is saved: run the same "
            "command again to resume")


def configured_seconds(key: str, default: float) -> float:
    """The duration at *key* in Dask's configuration (YAML files, DASK_* variables,
    dask.config.set), in seconds; *default* when it is unset or null, or Dask is not installed.
    A number is seconds; text is Dask's ("90s", "10m", "1h").

    Raises:
        ImgfindError: the value is not a positive duration (one line, naming the key).
    """
    try:
        import dask.config
        from dask.utils import parse_timedelta
    except ImportError:
        return default
    value = dask.config.get(key, None)
    if value is None:
        return default
    try:
        seconds = parse_timedelta(value, default="seconds")
    except (ValueError, TypeError, KeyError):
        seconds = None
    if seconds is None or not 0 < float(seconds) < float("inf"):
        raise ImgfindError(f"Dask's configuration {key} = {value!r} is not a positive duration "
                           "(give seconds, or text like '90s', '10m')")
    return float(seconds)


def scheduler_executor(address: str | SchedulerAddress | None,
                       given_as: str | None = None) -> DaskExecutor | None:
    """The executor for ``--scheduler ADDRESS`` (or $IMGFIND_SCHEDULER); None without either.
    Files that crash workers are recorded as unreadable. *given_as* names where the address
    came from, for messages (default: the option, or the variable when read here). An
    address already checked (SchedulerAddress, as the CLI's option gives) is not parsed again.

    Raises:
        ImgfindError: distributed is not installed, or the address is malformed (parse_scheduler).
    """
    if not address and os.environ.get(SCHEDULER_ENV):
        address, given_as = os.environ[SCHEDULER_ENV], given_as or f"{SCHEDULER_ENV} (environment)"
    if not address:
        return None
    given_as = given_as or "--scheduler"
    from .analyse import crashed_batch

    if isinstance(address, str):
        try:
            address = SchedulerAddress.parse(address)
        except ValueError as exc:
            raise ImgfindError(f"{given_as} {exc}") from None
    _distributed(given_as)  # the one-line error before anything else happens
    return DaskExecutor(address, on_poison=crashed_batch)
