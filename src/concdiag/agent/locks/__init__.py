"""Lock tracking inside the target: tracked lock types, their tables, deadlocks."""
