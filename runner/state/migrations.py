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
        git TEXT NOT NULL,                  -- JSON: runner.git.meta.GitMeta
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
    # 4: the model registry (runner.registry): models, immutable versions, their files, aliases, history
    """
    CREATE TABLE models (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,               -- active | archived
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE model_versions (
        name TEXT NOT NULL REFERENCES models (name),
        version INTEGER NOT NULL,           -- 1, 2, 3... per model
        digest TEXT NOT NULL,               -- the content: a file's digest, or a folder's (runner.reconcile.fingerprint.outputs_digest)
        path TEXT NOT NULL,                 -- where it was in the run, e.g. outputs/model.joblib
        kind TEXT NOT NULL,                 -- file | folder
        run_id TEXT NOT NULL REFERENCES runs (id),
        metadata TEXT NOT NULL,             -- JSON: framework, framework_version, resources, tags, properties, description
        lineage TEXT NOT NULL,              -- JSON: run, fingerprint, snapshot, environment, git, metrics
        created_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
    ) WITHOUT ROWID;
    CREATE TABLE model_files (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        path TEXT NOT NULL,                 -- relative to the model (a file model: its file name)
        digest TEXT NOT NULL,               -- an object in objects/ (a gc root)
        size INTEGER NOT NULL,
        PRIMARY KEY (name, version, path),
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
    ) WITHOUT ROWID;
    CREATE TABLE model_aliases (
        name TEXT NOT NULL REFERENCES models (name),
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        source TEXT NOT NULL,               -- declared (train.yaml) | manual (`runner models alias`)
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, alias)
    ) WITHOUT ROWID;
    CREATE TABLE model_history (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL REFERENCES models (name),
        action TEXT NOT NULL,               -- register | update | alias | archive | unarchive
        version INTEGER,
        detail TEXT NOT NULL,               -- JSON
        at TEXT NOT NULL,
        git_commit TEXT
    );
    CREATE INDEX model_history_by_name ON model_history (name, id);
    """,
    # 5: which spec file declares each model: apply --prune archives only the models of the
    # file in use, so train.yaml and train.docker.yaml can share one project's registry
    """
    ALTER TABLE models ADD COLUMN spec TEXT NOT NULL DEFAULT 'train.yaml';
    """,
    # 6: each snapshotted folder's index (runner.snapshot.index): a header and chunks of its walk
    """
    CREATE TABLE snapshot_index (
        key TEXT PRIMARY KEY,               -- folder, ignore mode, omitted files
        walk_sha TEXT NOT NULL,             -- sha256 of the chunks' sha256s: all a no-op compares
        manifest TEXT,                      -- the snapshot digest of that walk, if every digest is trusted
        revision INTEGER NOT NULL,          -- bumped by each save; a save made from another revision is dropped
        chunk_shas TEXT NOT NULL            -- the chunks' sha256s, comma-separated
    );
    CREATE TABLE snapshot_index_chunks (
        key TEXT NOT NULL,
        chunk INTEGER NOT NULL,             -- files chunk*512 .. chunk*512+511 of the walk
        walk BLOB NOT NULL,                 -- marshal version 2 of their stats (no refs: equal walks, equal bytes)
        data BLOB NOT NULL,                 -- marshal: (format, their digests)
        PRIMARY KEY (key, chunk)
    );
    """,
    # 7: sweeps (runner.sweeps): each sweep of a job, its trials, and the run each trial is
    """
    CREATE TABLE sweeps (
        id TEXT PRIMARY KEY,                -- the sweep's fingerprint: the job's without the swept params, plus the sweep block
        job TEXT NOT NULL,
        sampling_algorithm TEXT NOT NULL,
        objective TEXT NOT NULL,            -- JSON: primary_metric, goal
        definition TEXT NOT NULL,           -- JSON: the sweep block as train.yaml gave it (limits included)
        components TEXT NOT NULL,           -- JSON: the parts of its fingerprint (plan explains changes with them)
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX sweeps_by_job ON sweeps (job, updated_at);
    CREATE TABLE sweep_trials (
        sweep_id TEXT NOT NULL REFERENCES sweeps (id),
        trial INTEGER NOT NULL,             -- 1, 2, 3... in the order they were sampled
        params TEXT NOT NULL,               -- JSON: the job's params for this trial
        raw TEXT NOT NULL,                  -- JSON: what the sampler drew (exponents before exp, before rounding)
        run_id TEXT REFERENCES runs (id),   -- the run that is this trial (an earlier identical run when reused)
        reused INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sweep_id, trial)
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;
    ALTER TABLE runs ADD COLUMN trial INTEGER;
    CREATE INDEX runs_by_fingerprint ON runs (job, fingerprint);
    CREATE INDEX runs_by_trial ON runs (sweep_id, trial);
    """,
    # 8: the rank of each metric point (distributed jobs: every rank logs to the run; 0 otherwise)
    """
    ALTER TABLE metrics ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
    """,
    # 9: runs on a cluster: its id there (ray: the submission id) and where to find it again
    # (JSON: address, storage folder), so a later apply reattaches instead of calling it lost
    """
    ALTER TABLE runs ADD COLUMN remote_id TEXT;
    ALTER TABLE runs ADD COLUMN remote TEXT;
    """,
]
