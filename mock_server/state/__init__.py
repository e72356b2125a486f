"""State: the SQLite file, its journal, the barriers and gates that let several worker
processes share it, and the caches in front of it."""
