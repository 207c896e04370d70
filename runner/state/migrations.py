"""The schema of `state.db` as a ladder: `MIGRATIONS[i]` upgrades `user_version` i -> i+1.

Later issues append scripts (runs, metrics, models); never edit a released one. Each
script runs in one transaction with the version bump (see `runner.state.db`), so a
migration is applied completely or not at all.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: metadata, the stat cache and recorded snapshots
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('objects_algorithm', 'sha256');
    CREATE TABLE stat_cache (
        path TEXT PRIMARY KEY,          -- project-relative POSIX path
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        digest TEXT NOT NULL,           -- sha256 hex of the content, an object in objects/
        recorded_ns INTEGER NOT NULL    -- when the file was read (racy-entry rule)
    ) WITHOUT ROWID;
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        job TEXT,
        digest TEXT NOT NULL,           -- the manifest object's digest
        files INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX snapshots_by_job ON snapshots (job, id);
    """,
    # 2: remember which code folder a snapshot was taken of; gc looks cache rows up by digest
    """
    ALTER TABLE snapshots ADD COLUMN code TEXT NOT NULL DEFAULT '.';
    CREATE INDEX stat_cache_by_digest ON stat_cache (digest);
    """,
    # 3: run history (runs, their lifecycle events, stored outputs/logs, metrics)
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,                -- JOB-N
        job TEXT NOT NULL,
        seq INTEGER NOT NULL,
        experiment TEXT NOT NULL,
        status TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        components TEXT NOT NULL,           -- JSON: the parts of the fingerprint (plan explains changes with them)
        reasons TEXT NOT NULL,              -- JSON list: why it ran
        params TEXT NOT NULL,               -- JSON: the job's params
        snapshot TEXT,
        environment TEXT,                   -- environment fingerprint
        git TEXT NOT NULL,                  -- JSON: runner.gitmeta.GitMeta
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        exit_code INTEGER,
        error TEXT,
        owner_pid INTEGER,                  -- the apply that owns it: dead owner + active status = lost
        pgid INTEGER,                       -- the run's process group (killed when found lost)
        attempt INTEGER NOT NULL DEFAULT 1,
        tags TEXT NOT NULL DEFAULT '{}',
        logged_params TEXT NOT NULL DEFAULT '{}',
        UNIQUE (job, seq)
    );
    CREATE INDEX runs_by_status ON runs (status);
    CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs (id),
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX run_events_by_run ON run_events (run_id);
    CREATE TABLE run_files (
        run_id TEXT NOT NULL REFERENCES runs (id),
        kind TEXT NOT NULL,                 -- outputs | logs
        path TEXT NOT NULL,                 -- relative to the run folder, e.g. outputs/model.joblib
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (run_id, kind, path)
    ) WITHOUT ROWID;
    CREATE INDEX run_files_by_digest ON run_files (digest);
    CREATE TABLE metrics (
        run_id TEXT NOT NULL REFERENCES runs (id),
        name TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        time TEXT NOT NULL
    );
    CREATE INDEX metrics_by_run ON metrics (run_id, name, step);
    """,
]
