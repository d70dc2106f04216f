"""A PostgreSQL instance a test starts itself (initdb in a temporary folder, its own port), to freeze it.

The shared server of the machine is never stopped: a test that SIGSTOPs a database stops its own. initdb
refuses to run as root, so as root the instance runs as the ``postgres`` system user (``runuser``); the
binaries come from ``PYMESCORE_TEST_PG_BIN`` or the newest ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin_dir() -> Path | None:
    given = os.environ.get("PYMESCORE_TEST_PG_BIN")
    if given:
        return Path(given)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnPostgres:
    """``start()`` initdb + pg_ctl start; ``freeze()`` / ``thaw()`` SIGSTOP / SIGCONT every process of it."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pymescore-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Raises ``RuntimeError`` with the reason when this machine cannot run one."""
        if self.bin is None or not (self.bin / "initdb").exists():
            raise RuntimeError("no PostgreSQL binaries (set PYMESCORE_TEST_PG_BIN to the folder of initdb)")
        if self.as_user and shutil.which("runuser") is None:
            raise RuntimeError("running as root, and runuser is missing to run initdb as the postgres user")
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                      str(self.root / "log"), "-w", "-t", "60", "start")  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise RuntimeError(f"could not start PostgreSQL: {exc} {detail.decode(errors='replace')[-300:]}") from exc

    def pids(self) -> list[int]:
        """The postmaster and every process it forked (backends, checkpointer, walwriter, ...)."""
        main = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        out = [main]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == main:
                out.append(int(stat.parent.name))
        return out

    def freeze(self) -> list[int]:
        pids = self.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            for pid in self.pids():  # a test that failed while frozen must not leave it stopped
                os.kill(pid, signal.SIGCONT)
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60, check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A started instance, stopped and removed afterwards; ``RuntimeError`` when none can start here."""
    pg = OwnPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
