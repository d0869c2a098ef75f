"""Application shell: settings, database, accounts, auth, errors, CLI and app factory."""
