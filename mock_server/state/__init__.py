"""State: the SQLite file (its schema, namespaces, record tables, journal and snapshots),
the barriers and gates that let several worker processes share it, and the caches in
front of it. It knows no domain type: each kind of record declares how it is stored."""
