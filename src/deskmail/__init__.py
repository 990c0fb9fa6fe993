"""deskmail: turns mailboxes into service-desk tickets, exactly once."""

__version__ = "0.1.0"
