"""Module learning content: studying, ticking off, editing, files."""
