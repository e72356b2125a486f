"""The tables of the state file, as the ordered steps that build them.

A new file runs every step; a file of an older version runs the steps it lacks, so an
existing `--state-file` keeps working. A new kind of record gets its table as a new step
at the end (and its name in NAMESPACED_TABLES): never edit a step that has shipped.
"""

from __future__ import annotations

STATE_FORMAT = "pixxel-mock-state"

# STEPS[n] brings a file of schema version n to version n + 1
STEPS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY, mode TEXT NOT NULL, speed REAL NOT NULL,
    sim_anchor REAL NOT NULL, real_anchor REAL NOT NULL,
    rules_version INTEGER NOT NULL DEFAULT 0,
    faults TEXT NOT NULL DEFAULT '[]', scenario TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE IF NOT EXISTS fault_counts (
    namespace TEXT NOT NULL, rule_id TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (namespace, rule_id))""",
        """CREATE TABLE IF NOT EXISTS jobs (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    workflow_id TEXT NOT NULL, project_id TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    overrides TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS jobs_by_workflow ON jobs (namespace, workflow_id, seq)",
        "CREATE INDEX IF NOT EXISTS jobs_by_seq ON jobs (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    job_id TEXT NOT NULL, task_id TEXT NOT NULL, created_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    ready_after_seconds REAL NOT NULL, ready_after_polls INTEGER NOT NULL,
    PRIMARY KEY (namespace, id))""",
        """CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, at REAL NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,
    operation_id TEXT, status INTEGER NOT NULL, duration_ms REAL NOT NULL,
    violations TEXT NOT NULL)""",
    ),
    (  # the journal keeps each answer's fault and states; recordings to replay
        "ALTER TABLE journal ADD COLUMN fault TEXT",
        "ALTER TABLE journal ADD COLUMN states TEXT",
        "CREATE TABLE IF NOT EXISTS recordings (id TEXT PRIMARY KEY, document TEXT NOT NULL)",
    ),
    (  # AOIs (their assets are derived) and AOI downloads
        """CREATE TABLE IF NOT EXISTS aois (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    project_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
    satellite_id TEXT NOT NULL, provider TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    geometry TEXT NOT NULL, items TEXT NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS aois_by_seq ON aois (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS aoi_downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, aoi_id TEXT NOT NULL,
    asset_ids TEXT NOT NULL, created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    ready_after_seconds REAL NOT NULL, ready_after_polls INTEGER NOT NULL,
    PRIMARY KEY (namespace, id))""",
    ),
    (  # custom indices, visualizations (their assets and legends are derived), legend edits
        """CREATE TABLE IF NOT EXISTS indices (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, workspace TEXT NOT NULL,
    name TEXT NOT NULL, description TEXT NOT NULL, expression TEXT NOT NULL,
    colormap TEXT NOT NULL, satellite_id TEXT NOT NULL, expression_type TEXT NOT NULL,
    rescale_low INTEGER NOT NULL, rescale_high INTEGER NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS indices_by_seq ON indices (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS visualizations (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, aoi_id TEXT NOT NULL,
    index_id TEXT NOT NULL, index_name TEXT NOT NULL, index_type TEXT NOT NULL,
    expression TEXT NOT NULL, expression_type TEXT NOT NULL, colormap TEXT NOT NULL,
    rescale_low INTEGER NOT NULL, rescale_high INTEGER NOT NULL, workspace TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    source_ids TEXT NOT NULL, resolution REAL NOT NULL, outcome TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS visualizations_by_seq ON visualizations (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS legend_edits (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    visualization_id TEXT NOT NULL, mode TEXT NOT NULL, dates TEXT NOT NULL, bins TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS legend_edits_by_seq ON legend_edits (namespace, seq)",
    ),
    (  # insights, their soft deletions and their downloads
        """CREATE TABLE IF NOT EXISTS insights (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, aoi_id TEXT NOT NULL,
    project_id TEXT NOT NULL, name TEXT NOT NULL, block_name TEXT NOT NULL,
    block_version TEXT NOT NULL, input TEXT NOT NULL, metadata TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    err_msg TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS insights_by_seq ON insights (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS insight_deletions (
    namespace TEXT NOT NULL, id TEXT NOT NULL, deleted_at REAL NOT NULL,
    deleted_by TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        """CREATE TABLE IF NOT EXISTS insight_downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, insight_id TEXT NOT NULL,
    inputs TEXT NOT NULL, outputs TEXT NOT NULL, created_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    ready_after_seconds REAL NOT NULL, ready_after_polls INTEGER NOT NULL,
    PRIMARY KEY (namespace, id))""",
    ),
    (  # the order desk: orders (items, tasks and catalogs are derived), stores and their
        # deletions, manual deliveries, catalog download resources
        """CREATE TABLE IF NOT EXISTS orders (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, org_id TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    items TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS orders_by_seq ON orders (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS stores (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, org_id TEXT NOT NULL,
    name TEXT NOT NULL, type TEXT NOT NULL, bucket TEXT NOT NULL, region TEXT NOT NULL,
    path_prefix TEXT NOT NULL, labels TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS stores_by_seq ON stores (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS store_deletions (
    namespace TEXT NOT NULL, id TEXT NOT NULL, deleted_at REAL NOT NULL,
    deleted_by TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        """CREATE TABLE IF NOT EXISTS deliveries (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, catalog_id TEXT NOT NULL,
    store_id TEXT NOT NULL, path TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0, outcome TEXT NOT NULL,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS deliveries_by_seq ON deliveries (namespace, seq)",
        """CREATE TABLE IF NOT EXISTS catalog_downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    catalog_ids TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id))""",
        "CREATE INDEX IF NOT EXISTS catalog_downloads_by_seq ON catalog_downloads (namespace, seq)",
    ),
)
SCHEMA_VERSION = len(STEPS)

# every table whose rows belong to one namespace: a reset or an eviction deletes them
NAMESPACED_TABLES = (
    "jobs",
    "downloads",
    "aois",
    "aoi_downloads",
    "indices",
    "visualizations",
    "legend_edits",
    "insights",
    "insight_deletions",
    "insight_downloads",
    "orders",
    "stores",
    "store_deletions",
    "deliveries",
    "catalog_downloads",
    "namespaces",
    "fault_counts",
    "journal",
)
