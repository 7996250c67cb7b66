"""SQL store: models, sessions, migrations, imports and exports, and the audit chain."""
