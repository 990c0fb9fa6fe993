"""Where jobs live: the file's jobs (provisioned, read-only) and the database's.

Modules: secrets (which settings are secrets, sealed apart), catalog (list, create,
update, enable, delete; the typed view others build on), running (every job as the
commands and the daemon run it), export (jobs written back as TOML).

Above config/ and store/; below cli/ and daemon/, which call it.
"""
