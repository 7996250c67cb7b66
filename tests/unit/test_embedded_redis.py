"""The embedded redis-server lives and dies with the process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
from support.polling import until_sync

from cobrador.ground.errors import UserError
from cobrador.ground.redis_runtime import EmbeddedRedis, RedisStartError

CHILD = """
import sys, time
from cobrador.ground.redis_runtime import EmbeddedRedis
server = EmbeddedRedis().start()
print(server.port, flush=True)
time.sleep(60)
"""


def test_given_embedded_server_when_stopped_then_process_gone() -> None:
    server = EmbeddedRedis().start()
    client = redis.Redis(port=server.port)
    assert client.ping()
    pid = server._proc.pid  # type: ignore[union-attr]
    server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_given_parent_killed_with_sigkill_then_no_orphaned_redis_server() -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    port = int(parent.stdout.readline())
    servers = [
        p for p in psutil.Process(parent.pid).children() if "redis-server" in " ".join(p.cmdline())
    ]
    assert servers and redis.Redis(port=port).ping()
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while servers[0].is_running() and servers[0].status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "redis-server outlived its parent"
        time.sleep(0.05)


CTRL_C_CHILD = """
import signal, time, redis
from cobrador.ground.redis_runtime import EmbeddedRedis
asked = []
signal.signal(signal.SIGINT, lambda *_: asked.append(1))
server = EmbeddedRedis().start()
print(server.port, flush=True)
while not asked:
    time.sleep(0.02)
time.sleep(0.5)  # what the process still writes on its way out
try:
    print("alive" if redis.Redis(port=server.port).ping() else "dead", flush=True)
except redis.RedisError:
    print("dead", flush=True)
server.stop()
"""


def test_given_ctrl_c_in_a_terminal_then_redis_server_outlives_the_process_stopping() -> None:
    # A terminal's Ctrl-C sends SIGINT to its whole foreground process group.
    parent = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)  # fmt: skip
    assert parent.stdout is not None
    int(parent.stdout.readline())
    os.killpg(parent.pid, signal.SIGINT)
    assert parent.stdout.readline().strip() == "alive"
    assert parent.wait(timeout=30) == 0


def _config(client: redis.Redis, name: str) -> str:
    value = client.config_get(name)[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def test_given_embedded_server_then_it_snapshots_and_appends_every_second(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis(port=server.port)
        assert _config(client, "save") == "60 1"
        assert _config(client, "appendonly") == "yes"
        assert _config(client, "appendfsync") == "everysec"
        client.close()


def test_given_relative_data_dir_when_started_then_paths_are_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with EmbeddedRedis(Path("cobrador-data/redis")) as server:
        client = redis.Redis(port=server.port)
        assert _config(client, "dir") == str(tmp_path / "cobrador-data" / "redis")
        assert _config(client, "logfile") == str(tmp_path / "cobrador-data" / "redis" / "redis.log")
        client.close()


def test_given_keys_written_when_server_restarted_on_same_dir_then_keys_are_back(
    tmp_path: Path,
) -> None:
    with EmbeddedRedis(tmp_path) as server:
        redis.Redis(port=server.port).set("k", "v")
    with EmbeddedRedis(tmp_path) as server:
        assert redis.Redis(port=server.port).get("k") == b"v"


def test_given_snapshot_without_aof_when_started_then_snapshot_loaded_and_aof_on(
    tmp_path: Path,
) -> None:
    # A data dir from before AOF was on: redis-server would load only the absent AOF.
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis(port=server.port)
        client.set("k", "v")
        client.save()
    (tmp_path / "embedded.aof").unlink()
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis(port=server.port)
        assert client.get("k") == b"v"
        assert _config(client, "appendonly") == "yes"


def test_given_port_taken_when_started_then_user_error_with_redis_servers_words(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedRedis(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(RedisStartError) as caught:
            server.start()
    assert isinstance(caught.value, UserError)
    assert "Address already in use" in str(caught.value)


def test_given_a_password_then_only_a_client_with_it_gets_in_and_it_is_on_no_command_line(
    tmp_path: Path,
) -> None:
    """Another local user can reach a loopback port and list every command line: the
    server asks for the password, which was on no argv and is not left on disk."""
    secret = "s3cret-" + "x" * 20
    with EmbeddedRedis(tmp_path / "redis", password=secret, persist=False) as server:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()
        assert redis.Redis.from_url(server.url).ping()
        assert server.url == f"redis://:{secret}@127.0.0.1:{server.port}/0"
        argv = " ".join(psutil.Process(server._proc.pid).cmdline())  # type: ignore[union-attr]
        assert secret not in argv
        assert not (tmp_path / "redis" / "auth.conf").exists()


def test_given_the_runtime_then_its_embedded_redis_has_a_password_of_its_data_dir(
    tmp_path: Path,
) -> None:
    from cobrador.ground.runtime import redis_url
    from cobrador.ground.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    with redis_url(settings) as first:
        assert redis.Redis.from_url(first).ping()
        port = int(first.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
    # The next start of the dir listens where the last did (its sharers hold that
    # address); the password stays in a file only its owner reads.
    with redis_url(settings) as second:
        assert second == first
    assert (tmp_path / "data" / "redis" / "server.json").stat().st_mode & 0o077 == 0
    with redis_url(Settings(data_dir=tmp_path / "other")) as elsewhere:
        assert elsewhere.split("@")[0] != first.split("@")[0]


def test_given_a_server_on_the_dir_when_a_second_process_starts_there_then_it_shares_it(
    tmp_path: Path,
) -> None:
    """`cobrador import` beside `make demo`: a second redis-server on the same snapshot
    and append-only file wrote both, and the two processes saw different Redis."""
    owner = EmbeddedRedis(tmp_path, password="owner-" + "a" * 20).start()
    try:
        joiner = EmbeddedRedis(tmp_path, password="other-" + "b" * 20).start()
        assert (joiner.port, joiner.shared_from) == (owner.port, os.getpid())
        redis.Redis.from_url(joiner.url).set("k", "v")
        assert redis.Redis.from_url(owner.url).get("k") == b"v"  # one Redis
        assert joiner._proc is None  # it started no redis-server of its own
        joiner.stop()  # not its server: it goes on
        assert redis.Redis.from_url(owner.url).ping()
        share = tmp_path / "server.json"
        assert share.stat().st_mode & 0o077 == 0  # the password: its owner's only
    finally:
        owner.stop()
    with EmbeddedRedis(tmp_path) as again:  # the dir is free again: a server of its own
        assert again.shared_from is None and redis.Redis.from_url(again.url).get("k") == b"v"
        assert again.url == owner.url  # where the last one listened


def test_given_a_share_file_left_by_a_process_that_died_then_a_new_start_serves_the_dir(
    tmp_path: Path,
) -> None:
    # SIGKILL leaves the file; the kernel released the lock: nobody serves the dir.
    (tmp_path / "server.json").write_text('{"port": 1, "password": "x", "pid": 999999}')
    with EmbeddedRedis(tmp_path, password="p" * 24) as server:
        assert server.shared_from is None and redis.Redis.from_url(server.url).ping()


def test_given_the_dir_held_by_a_process_that_never_answers_then_a_reason_not_a_hang(
    tmp_path: Path,
) -> None:
    import fcntl

    fd = os.open(tmp_path / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held, and no server.json ever written
    try:
        with pytest.raises(RedisStartError) as caught:
            EmbeddedRedis(tmp_path).start(timeout=0.5)
    finally:
        os.close(fd)
    assert "another cobrador process runs the embedded Redis" in str(caught.value)
    assert "COBRADOR_DATA_DIR" in str(caught.value)


def test_given_a_sharer_when_the_process_serving_the_dir_stops_then_it_serves_it_on_the_same_address(
    tmp_path: Path,
) -> None:
    """A console restarted beside its dialer: the dialer shared the console's server and
    was left knocking on a port nobody listened on, failing closed until restarted."""
    owner = EmbeddedRedis(tmp_path, password="owner-" + "a" * 20).start()
    sharer = EmbeddedRedis(tmp_path, password="other-" + "b" * 20).start()
    try:
        client = redis.Redis.from_url(sharer.url)  # made once, as a process's pool is
        client.set("k", "v")
        owner.stop()
        until_sync(lambda: sharer.took_over.is_set() and client.get("k") == b"v",
                   "the sharer serving the dir", tolerate=(redis.ConnectionError,))  # fmt: skip
        assert sharer.shared_from is None
        assert sharer.url == owner.url
        # And a process started now shares the new server.
        third = EmbeddedRedis(tmp_path).start()
        assert third.shared_from == os.getpid() and third.url == owner.url
        third.stop()
    finally:
        sharer.stop()
    assert not psutil.Process().children() or all(
        "redis-server" not in " ".join(c.cmdline()) or c.status() == psutil.STATUS_ZOMBIE
        for c in psutil.Process().children()
    )


OWNER_CHILD = """
import sys, time
from pathlib import Path
from cobrador.ground.redis_runtime import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]), password="killed-" + "c" * 20).start()
print(server.port, flush=True)
time.sleep(120)
"""


def test_given_the_serving_process_killed_then_a_sharer_serves_the_dir_with_its_data(
    tmp_path: Path,
) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER_CHILD, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert owner.stdout is not None
    int(owner.stdout.readline())
    sharer = EmbeddedRedis(tmp_path).start()
    try:
        assert sharer.shared_from == owner.pid
        client = redis.Redis.from_url(sharer.url)
        client.set("promise", "kept")
        client.save()  # on disk, as the server's everysec AOF would have it
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        # The killed process's server saves on its way out (SIGTERM from the kernel).
        until_sync(lambda: sharer.took_over.is_set() and client.get("promise") == b"kept",
                   "the sharer serving the dir", tolerate=(redis.ConnectionError,))  # fmt: skip
    finally:
        sharer.stop()


def test_given_the_lock_let_go_while_a_start_waits_to_share_then_it_serves_the_dir(
    tmp_path: Path,
) -> None:
    """A sharer stopping just as the owner stopped held the lock for a moment: a process
    starting then waited on a server nobody ran and gave up after its timeout."""
    import fcntl
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    (tmp_path / "server.json").write_text(f'{{"port": {port}, "password": "{"q" * 24}", "pid": 1}}')
    fd = os.open(tmp_path / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    starting = EmbeddedRedis(tmp_path)
    started: list[EmbeddedRedis] = []
    done = threading.Event()

    def start_and_stay() -> None:
        # The kernel stops redis-server when the thread that started it ends
        # (PR_SET_PDEATHSIG): this one lives as long as the test needs the server.
        started.append(starting.start(timeout=60))
        done.wait()

    thread = threading.Thread(target=start_and_stay)
    thread.start()
    try:
        until_sync(lambda: starting.port == port, "the start reading where to share")
    finally:
        os.close(fd)  # the holder lets go
    try:
        until_sync(lambda: started or not thread.is_alive(), "the start to end")
        assert started and started[0].shared_from is None
        assert redis.Redis.from_url(started[0].url).ping() and started[0].port == port
    finally:
        starting.stop()
        done.set()
        thread.join()
