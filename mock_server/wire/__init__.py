"""The HTTP layer: binding the spec's operations to handlers, request validation,
exchange checking, per-request state, size limits and the error envelope.

It translates HTTP to calls of the model and back; `model/` never imports it.
"""
