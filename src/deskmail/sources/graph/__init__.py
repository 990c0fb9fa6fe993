"""Microsoft Graph mailbox source: a thin HTTP client (client.py, throttle.py), folder
paths (folders.py), delta rounds (delta.py) and the Source itself (source.py)."""
