"""Contract loading: the OpenAPI documents and fixtures shipped as package data, read
and compiled once."""
