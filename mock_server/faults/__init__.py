"""Fault injection over HTTP: the `Prefer` header, fault rules and the scenario library
(the rules themselves are plain data in `model/faults.py`)."""
