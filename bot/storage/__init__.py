"""SQLite: schema and migrations, the connection-owner threads, the task store."""
