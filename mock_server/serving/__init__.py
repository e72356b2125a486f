"""Serving: gunicorn, the bridge from its event loop to the app, createJob's group
commit, the collector setting, and the refusals gunicorn itself writes."""
