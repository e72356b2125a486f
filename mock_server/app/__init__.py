"""The app: its configuration, the parts one mock instance runs on, and the factory."""
