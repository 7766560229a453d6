"""A private PostgreSQL cluster for fault tests: its own data directory and port on 127.0.0.1.

Fault tests stop the server with `pg_ctl stop -m immediate` (what a crash or an OOM kill of the
postmaster looks like to clients: every connection cut, nothing flushed beyond the WAL) and start it
again. The shared server on 5432 serves every other test, so it is never the one stopped: each fault
test runs `initdb` into a temporary directory and starts a server of its own, removed at the end even
on failure. PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.utils.relay import free_port

SERVER_USER = "postgres"  # the OS user that owns the cluster when the tests run as root


def pg_bin_dir() -> Path:
    """The newest installed server's binaries (Debian installs them under /usr/lib/postgresql/<major>)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PrivateCluster:
    """One initdb'd cluster; `stop_immediately` and `start` are the faults a test injects."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.bin = pg_bin_dir()
        self._as_root = os.geteuid() == 0

    @property
    def server_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> None:
        # trust on loopback only: the cluster lives for one test module and listens on 127.0.0.1 alone.
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
        # fsync off keeps the tests fast and changes nothing they observe: an immediate stop kills the
        # server, not the kernel, so every committed transaction's WAL survives in the page cache and
        # crash recovery replays it; what a killed backend had not committed is gone either way.
        options += " -c fsync=off -c full_page_writes=off"
        data = str(self.data)
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", data, "-o", options, "-l", str(self.log))

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def stop_immediately(self) -> None:
        """The crash: every backend is killed at once, no checkpoint; the next start runs crash recovery."""
        self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.server_url}/{name}"

    def wait_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started cluster on a free loopback port; stopped and its directory removed afterwards."""
    # Not pytest's tmp_path: that is private to root (0700), and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="dctest-pgcluster-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = PrivateCluster(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.running():
                cluster.stop_immediately()  # nothing in it is worth a clean shutdown
        finally:
            shutil.rmtree(root, ignore_errors=True)
