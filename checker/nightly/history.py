"""Night-to-night history of findings, in SQLite: what is new, fixed and still open since
the previous run, and for how long each finding has been there.

One database per estate and cluster (the report names both). Each run records its active
findings by fingerprint; a finding's age counts from the first run of its current,
unbroken stretch of runs (fixed and back again starts a new stretch). Writers take SQLite's
write lock for the whole record, so two nightly jobs that overlap do not interleave.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from checker.errors import CheckerError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    scope TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    findings INTEGER NOT NULL,
    drift INTEGER NOT NULL,
    errors INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_scope ON runs (scope, id);
CREATE TABLE IF NOT EXISTS seen (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    fingerprint TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    subject TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (run_id, fingerprint)
);
"""


class HistoryError(CheckerError):
    """The history database cannot be used (not ours, corrupt, unwritable)."""


@dataclass(frozen=True, slots=True)
class Observation:
    """An active finding as the history keeps it."""

    fingerprint: str
    rule_id: str
    severity: str
    category: str
    subject: str
    """What the finding is about, for a fixed one (which has no current report entry)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    at: dt.datetime
    findings: int
    drift: int
    errors: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """This run against the previous one of the same scope."""

    previous: RunSummary | None
    new: frozenset[str]
    fixed: tuple[Observation, ...]
    still_open: frozenset[str]
    since: dict[str, dt.datetime]
    """Fingerprint → start of its unbroken stretch of runs (this run's time when new)."""
    trend: tuple[RunSummary, ...]
    """The last runs of this scope, oldest first, this one included."""


class History:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"history {self.path}: cannot open: {exc}") from None
        with closing(connection):
            try:
                _setup(connection)
                row = connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                       (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise HistoryError(f"history {self.path}: schema version {row[0]}, this "
                                       f"gitops-checker reads {SCHEMA_VERSION}")
                yield connection
            except sqlite3.DatabaseError as exc:
                raise HistoryError(f"history {self.path}: {exc} (not a gitops-checker "
                                   "history, or damaged)") from None

    def record(self, scope: str, at: dt.datetime, tool_version: str,
               observations: Iterable[Observation], *, drift: int, errors: int,
               nights: int = 30) -> Comparison:
        """Store this run and compare it with the previous run of `scope`."""
        current = {o.fingerprint: o for o in observations}
        stamp = _iso(at)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                previous_row = db.execute(
                    "SELECT id, at, findings, drift, errors FROM runs WHERE scope=? "
                    "ORDER BY id DESC LIMIT 1", (scope,)).fetchone()
                before: dict[str, tuple[Observation, str]] = {}
                if previous_row is not None:
                    for row in db.execute(
                            "SELECT fingerprint, rule_id, severity, category, subject, since "
                            "FROM seen WHERE run_id=?", (previous_row[0],)):
                        before[row[0]] = (Observation(*row[:5]), row[5])
                cursor = db.execute(
                    "INSERT INTO runs (at, scope, tool_version, findings, drift, errors) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (stamp, scope, tool_version, len(current), drift, errors))
                run_id = cursor.lastrowid
                since = {fp: before[fp][1] if fp in before else stamp for fp in current}
                db.executemany(
                    "INSERT INTO seen VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, o.fingerprint, o.rule_id, o.severity, o.category, o.subject,
                      since[o.fingerprint]) for o in current.values()])
                trend_rows = db.execute(
                    "SELECT id, at, findings, drift, errors FROM runs WHERE scope=? "
                    "ORDER BY id DESC LIMIT ?", (scope, max(nights, 1))).fetchall()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Comparison(
            previous=_summary(previous_row) if previous_row else None,
            new=frozenset(fp for fp in current if fp not in before),
            fixed=tuple(sorted((o for fp, (o, _) in before.items() if fp not in current),
                               key=lambda o: (o.subject, o.rule_id, o.fingerprint))),
            still_open=frozenset(fp for fp in current if fp in before),
            since={fp: _parse(value) for fp, value in since.items()},
            trend=tuple(_summary(row) for row in reversed(trend_rows)),
        )

    def runs(self, scope: str) -> Sequence[RunSummary]:
        with self._connect() as db:
            return [_summary(row) for row in db.execute(
                "SELECT id, at, findings, drift, errors FROM runs WHERE scope=? ORDER BY id",
                (scope,))]


def _setup(connection: sqlite3.Connection) -> None:
    """WAL and the tables. Two jobs opening a new file at once can find it locked while the
    other switches its journal mode (SQLite does not wait for that): retried, bounded."""
    for attempt in range(100):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05 + random.random() * 0.1)


def _summary(row: Sequence[object]) -> RunSummary:
    return RunSummary(int(row[0]), _parse(str(row[1])), int(row[2]),  # type: ignore[call-overload]
                      int(row[3]), int(row[4]))  # type: ignore[call-overload]


def _iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("history times must be timezone-aware")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
