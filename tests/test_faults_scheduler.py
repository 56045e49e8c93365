"""--scheduler / IMGFIND_SCHEDULER as a new user meets it: a malformed address or local:N is a
usage error (exit 2) before anything connects or starts (local:-1 waited 20 s for a scheduler,
local:x printed int()'s message with exit 1, local:0 was taken silently); the banner says what
runs (local:N starts N worker processes of one thread); without distributed, an address from
the environment variable names that variable.
"""

from __future__ import annotations

import builtins

import pytest
from faults_support import cli_run, no_crash, one_error_line, photo


@pytest.fixture
def pics(tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    photo(folder / "a.jpg", seed=1)
    return folder


@pytest.mark.parametrize("value", ["local:x", "local:-1", "local:0", "local:", "local:1.5",
                                   "tcp://host:port", " ", "foo", "tcp://127.0.0.1:99999",
                                   "tcp://127.0.0.1:0", "ucx://127.0.0.1:1", "inproc://x",
                                   "tcp://127.0.0.1", "[::1"])
@pytest.mark.parametrize("given", ["option", "env"])
def test_malformed_scheduler_is_a_usage_error_at_once(tmp_path, pics, value, given):
    db = tmp_path / "i.db"
    args = ["--db", str(db), "index", str(pics)]
    if given == "option":
        result = cli_run(*args, "--scheduler", value)
    else:
        result = cli_run(*args, env={"IMGFIND_SCHEDULER": value})
    no_crash(result)
    # Exit 2 with Click's usage message: refused by the option's check while the command
    # line was parsed, before any command ran (nothing connected, nothing waited; a wait
    # measured in seconds would depend on the machine's load).
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--scheduler'"), result.stderr
    assert "int()" not in last and "invalid literal" not in last
    if value.startswith("local"):
        assert "local:N" in last and "1 to" in last
    if given == "env":
        assert "IMGFIND_SCHEDULER" in last
    assert not db.exists()


def test_missing_distributed_names_the_environment_variable(monkeypatch, tmp_path, pics):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    result = cli_run("--db", str(tmp_path / "i.db"), "index", str(pics),
                     env={"IMGFIND_SCHEDULER": "local:2"})
    line = one_error_line(result.exit_code, result.stderr)
    assert "IMGFIND_SCHEDULER" in line and "distributed" in line, line
    result = cli_run("--db", str(tmp_path / "i.db"), "index", str(pics), "--scheduler", "local:2")
    line = one_error_line(result.exit_code, result.stderr)
    assert "--scheduler" in line and "IMGFIND_SCHEDULER" not in line, line


def test_local_banner_says_worker_processes(tmp_path, pics):
    pytest.importorskip("distributed")
    result = cli_run("--db", str(tmp_path / "i.db"), "index", str(pics), "--scheduler", "local:1")
    no_crash(result)
    assert result.exit_code == 0, result.stderr
    assert "local Dask cluster of 1 worker process (1 thread each)" in result.stderr, result.stderr


def test_tls_without_dask_tls_settings_is_one_line(tmp_path, pics):
    # Dask's Client raised "TypeError: TLS expects a `ssl_context` argument" with a traceback.
    pytest.importorskip("distributed")
    result = cli_run("--db", str(tmp_path / "i.db"), "index", str(pics),
                     "--scheduler", "tls://127.0.0.1:1")
    no_crash(result)
    line = one_error_line(result.exit_code, result.stderr)
    assert "TLS settings" in line and "tls://127.0.0.1:1" in line


def test_local_cluster_leaves_stderr_to_imgfind(tmp_path, pics):
    # With something on Dask's dashboard port, a run printed a 4-line UserWarning ("Port 8787
    # is already in use"); Dask's WARNING lines (a nanny killing a worker at shutdown, a
    # restarted worker) came after the summary. Only imgfind's own lines are left.
    pytest.importorskip("distributed")
    import socket

    from faults_support import sub_run, text

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # already taken by something else: the same condition
    try:
        result = sub_run("--db", str(tmp_path / "i.db"), "index", str(pics), "--scheduler",
                         "local:1", timeout=240)
    finally:
        holder.close()
    err = text(result.stderr)
    assert result.returncode == 0, err
    assert "UserWarning" not in err and "distributed." not in err and "8787" not in err, err
    assert [line.split(":")[0] for line in err.splitlines() if line.strip()] == [
        "fingerprinting on a local Dask cluster of 1 worker process (1 thread each)", "indexed"], err
