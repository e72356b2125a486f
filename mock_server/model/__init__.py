"""The mock's domain, free of HTTP and SQL: the catalog, the lifecycle, and one module of
use cases per kind of resource (sessions, projects, blocks, workflows, jobs, downloads)."""
