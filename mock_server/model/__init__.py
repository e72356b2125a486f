"""The mock's domain model, free of HTTP: catalog, clock, lifecycle, store and use cases."""
