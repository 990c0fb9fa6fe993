"""Server-rendered screens, one router module per screen (see web/__init__.py)."""
