"""daemon stage: `deskmail serve` runs every job on its schedule, woken early by push.

Modules: schedule (when a job is due), backoff (waits after failures),
locks (one instance per job across hosts), worker (one job's loop), idle and
maildir_watch (what wakes a worker early), supervisor (signals, reload).

Kept free of imports: config.models imports deskmail.daemon.schedule to
validate schedules, and must not pull in the rest of the daemon.
"""
