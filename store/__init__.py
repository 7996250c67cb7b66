"""SQL store: models, sessions, migrations, imports and exports."""
