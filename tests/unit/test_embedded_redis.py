"""The embedded redis-server lives and dies with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import redis

from cobrador.redis_runtime import EmbeddedRedis

CHILD = """
import sys, time
from cobrador.redis_runtime import EmbeddedRedis
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
