"""Which process drives a run: one at a time, so no item is scored twice.

A run records its owner (host, process id, process start time and a random token) when it
starts or resumes. Every chunk commit checks, inside its transaction, that the token is still
the run's: if another process resumed the run meanwhile, the old one stops without writing.
A resume refuses while the owner is a live process on this machine (a SIGKILLed run's owner is
gone, so it can be resumed at once); the start time tells a live owner from a new process that
reuses its id.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import orjson

from engine.store import first_row
from labelgate.errors import RunError


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22 of proc(5), counted after the name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str | None
    token: str

    @classmethod
    def me(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), _start_time(os.getpid()), secrets.token_hex(8))

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | None) -> Owner | None:
        if not text:
            return None
        data = orjson.loads(text)
        return cls(str(data["host"]), int(data["pid"]), data.get("started"), str(data["token"]))

    def is_running_here(self) -> bool:
        """True when this owner is a live process on this machine (not this one)."""
        if self.host != socket.gethostname() or self.pid == os.getpid() or not _alive(self.pid):
            return False
        started = _start_time(self.pid)
        return started is None or self.started is None or started == self.started


def take_over(con: duckdb.DuckDBPyConnection, run_id: str, status: str) -> Owner:
    """Make this process the run's owner (inside the resume's transaction); refuse while another runs it."""
    row = first_row(con.execute("SELECT owner FROM runs WHERE run_id = ?", [run_id]))
    current = Owner.from_json(row[0] if row else None)
    if status == "running" and current is not None and current.is_running_here():
        raise RunError(
            f"run {run_id} is being scored right now by process {current.pid} on this machine: let it finish, "
            "or stop it (Ctrl-C) and resume then"
        )
    me = Owner.me()
    con.execute("UPDATE runs SET owner = ? WHERE run_id = ?", [me.to_json(), run_id])
    return me


def still_owner(con: duckdb.DuckDBPyConnection, run_id: str, token: str) -> bool:
    row = first_row(con.execute("SELECT owner->>'$.token' FROM runs WHERE run_id = ?", [run_id]))
    return row is not None and row[0] == token


def check_owner(con: duckdb.DuckDBPyConnection, run_id: str, token: str) -> None:
    """Inside a chunk's transaction: stop (and write nothing) if another process took the run over."""
    if not still_owner(con, run_id, token):
        raise RunError(
            f"run {run_id} was resumed by another process, which now scores it: this one stops without writing"
        )
