"""The `clock` command: run the platform, migrate, manage API keys, write the event catalogue."""
