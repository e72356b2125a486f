"""The mock's control plane (/__mock/...) and its signed download route."""
