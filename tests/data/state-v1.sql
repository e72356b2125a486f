-- A state file of schema version 1 (pixxel-mock before the journal kept faults and states):
-- a job, its GET and a refused request, dumped by sqlite3's iterdump. tests/test_coverage.py
BEGIN TRANSACTION;
CREATE TABLE downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    job_id TEXT NOT NULL, task_id TEXT NOT NULL, created_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    ready_after_seconds REAL NOT NULL, ready_after_polls INTEGER NOT NULL,
    PRIMARY KEY (namespace, id));
CREATE TABLE fault_counts (
    namespace TEXT NOT NULL, rule_id TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (namespace, rule_id));
CREATE TABLE jobs (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    workflow_id TEXT NOT NULL, project_id TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    overrides TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (namespace, id));
INSERT INTO "jobs" VALUES('default','ada84ea9-0cc5-56da-a32b-aa72149524df',1,'6b4cb242-4a23-4596-a217-beaddbc496cb','6b0d549b-6f03-475a-9600-a35a099950d8','90c192cf-d3ac-44af-8f21-ddb66cad4a26',1767225600.0,0,'{"slow_factor": 1.0, "failures": {}}');
CREATE TABLE journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, at REAL NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,
    operation_id TEXT, status INTEGER NOT NULL, duration_ms REAL NOT NULL,
    violations TEXT NOT NULL);
INSERT INTO "journal" VALUES(1,'default',1.79542774900473046297e+09,'POST','/v0/workflows/6b4cb242-4a23-4596-a217-beaddbc496cb/jobs','project_id=6b0d549b-6f03-475a-9600-a35a099950d8','createJob',200,3.405,'[]');
INSERT INTO "journal" VALUES(2,'default',1.79542774900723814965e+09,'GET','/v0/workflows/6b4cb242-4a23-4596-a217-beaddbc496cb/jobs/ada84ea9-0cc5-56da-a32b-aa72149524df','','getJob',200,0.575,'[]');
INSERT INTO "journal" VALUES(3,'default',1.79542774900817131995e+09,'GET','/v0/workflows','limit=0','listWorkflows',400,0.36,'["Query parameter \"limit\" is invalid: 0 is less than the minimum of 1."]');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('format','pixxel-mock-state');
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "meta" VALUES('secret','8872b581dc4c1520f57e21cfa74e6db3a1438ed57bdc5d2e43605116c272eb88');
INSERT INTO "meta" VALUES('initial_clock','{"mode": "manual", "speed": 60.0, "sim_anchor": 1767225600.0, "real_anchor": 1795427748.9416366}');
CREATE TABLE namespaces (
    namespace TEXT PRIMARY KEY, mode TEXT NOT NULL, speed REAL NOT NULL,
    sim_anchor REAL NOT NULL, real_anchor REAL NOT NULL,
    rules_version INTEGER NOT NULL DEFAULT 0,
    faults TEXT NOT NULL DEFAULT '[]', scenario TEXT NOT NULL DEFAULT '{}');
INSERT INTO "namespaces" VALUES('default','manual',60.0,1767225600.0,1.79542774894163656234e+09,0,'[]','{}');
CREATE INDEX jobs_by_workflow ON jobs (namespace, workflow_id, seq);
CREATE INDEX jobs_by_seq ON jobs (namespace, seq);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('journal',3);
COMMIT;
