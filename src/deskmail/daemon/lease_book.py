"""The lease table's statements (PostgreSQL): register, renew, take, give up, look.

Every time is the database's (now()), never a host's: instances whose clocks
disagree still agree on when a lease expires. Each call is one short
transaction on the store's pool; nothing stays open between renewals.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# An instance row whose heartbeat is older than this is removed (its jobs long taken over).
FORGET_AFTER_SECONDS = 3600

# This instance in daemon_instance: entered, or its heartbeat renewed if it is there.
_ENTER = sa.text(
    "INSERT INTO daemon_instance (id, host, pid, started_at, heartbeat_at)"
    " VALUES (:me, :host, :pid, now(), now())"
    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()"
)


@dataclass(frozen=True)
class Renewal:
    renewed: frozenset[str]  # our leases, renewed (any other we thought ours is lost)
    counts: dict[str, int]  # unexpired leases among the wanted jobs, by live instance


class LeaseBook:
    def __init__(self, engine: Engine, instance: str, lease_seconds: float) -> None:
        self._engine = engine
        self.instance = instance
        self._lease = lease_seconds

    def register(self, host: str, pid: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(_ENTER, {"me": self.instance, "host": host, "pid": pid})
            connection.execute(
                sa.text(
                    "DELETE FROM daemon_instance"
                    " WHERE heartbeat_at < now() - :forget * interval '1 second'"
                ),
                {"forget": FORGET_AFTER_SECONDS},
            )

    def renew(self, wanted: Collection[str], host: str, pid: int) -> Renewal:
        """Beat, extend every lease we hold, and count who holds what among `wanted`."""
        with self._engine.begin() as connection:
            beat = connection.execute(
                sa.text("UPDATE daemon_instance SET heartbeat_at = now() WHERE id = :me"),
                {"me": self.instance},
            )
            if beat.rowcount == 0:  # removed by someone who took us for long dead
                connection.execute(_ENTER, {"me": self.instance, "host": host, "pid": pid})
            renewed = connection.execute(
                sa.text(
                    "UPDATE job_lease SET renewed_at = now(),"
                    " expires_at = now() + :lease * interval '1 second'"
                    " WHERE holder = :me RETURNING job"
                ),
                {"me": self.instance, "lease": self._lease},
            ).scalars()
            held = frozenset(renewed)
            rows = connection.execute(
                sa.text(
                    "SELECT i.id, count(l.job) FROM daemon_instance i"
                    " LEFT JOIN job_lease l ON l.holder = i.id AND l.expires_at > now()"
                    " AND l.job = ANY(:wanted)"
                    " WHERE i.heartbeat_at > now() - :lease * interval '1 second'"
                    " GROUP BY i.id"
                ),
                {"wanted": list(wanted), "lease": self._lease},
            ).all()
        counts = {str(row[0]): int(row[1]) for row in rows}
        counts.setdefault(self.instance, len(held & set(wanted)))
        return Renewal(held, counts)

    def take(
        self, wanted: Collection[str], most: int, mine: Collection[str], cooling: Collection[str]
    ) -> list[str]:
        """Up to `most` free or expired leases among `wanted` (not `mine`), now ours.

        `cooling`: jobs we handed over lately, taken only if expired (their new
        holder died), not while free (another instance should take them).
        SKIP LOCKED: instances taking at the same moment lock different rows
        instead of waiting for each other, and never take the same one."""
        candidates = [job for job in wanted if job not in mine]
        if most <= 0 or not candidates:
            return []
        with self._engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO job_lease (job) SELECT unnest(CAST(:jobs AS varchar[]))"
                    " ON CONFLICT (job) DO NOTHING"
                ),
                {"jobs": candidates},
            )
            free = connection.execute(
                sa.text(
                    "SELECT job, holder, expires_at FROM job_lease WHERE job = ANY(:jobs)"
                    " AND ((holder IS NULL AND NOT job = ANY(:cooling)) OR expires_at < now())"
                    " ORDER BY random() LIMIT :most FOR UPDATE SKIP LOCKED"
                ),
                {"jobs": candidates, "most": most, "cooling": list(cooling)},
            ).all()
            for job, holder, expires_at in free:
                if holder is not None:  # expired: its holder stopped owning it at expiry
                    _close_history(connection, job, holder, until=expires_at)
                connection.execute(
                    sa.text(
                        "UPDATE job_lease SET holder = :me, taken_at = now(), renewed_at = now(),"
                        " expires_at = now() + :lease * interval '1 second' WHERE job = :job"
                    ),
                    {"me": self.instance, "lease": self._lease, "job": job},
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO lease_history (job, holder, held_from)"
                        " VALUES (:job, :me, now())"
                    ),
                    {"job": job, "me": self.instance},
                )
        return [str(row[0]) for row in free]

    def give_up(self, jobs: Collection[str]) -> None:
        """Release our leases of `jobs` (their workers have stopped)."""
        if not jobs:
            return
        with self._engine.begin() as connection:
            self._release(connection, list(jobs))

    def leave(self) -> None:
        """A clean stop: every lease released, the instance row removed."""
        with self._engine.begin() as connection:
            self._release(connection, None)
            connection.execute(
                sa.text("DELETE FROM daemon_instance WHERE id = :me"), {"me": self.instance}
            )

    def _release(self, connection: Connection, jobs: list[str] | None) -> None:
        """Our leases of `jobs` (None: all of them) freed, their history rows ended now."""
        statement = (
            "UPDATE job_lease SET holder = NULL, expires_at = NULL WHERE holder = :me"
            + ("" if jobs is None else " AND job = ANY(:jobs)")
            + " RETURNING job"
        )
        bound = {"me": self.instance} | ({} if jobs is None else {"jobs": jobs})
        released = connection.execute(sa.text(statement), bound).scalars()
        for job in list(released):
            _close_history(connection, job, self.instance, until=None)


def _close_history(connection: Connection, job: str, holder: str, until: object) -> None:
    """End the holder's open history row of `job` at `until` (None: now)."""
    connection.execute(
        sa.text(
            "UPDATE lease_history SET held_until = COALESCE(CAST(:until AS timestamptz), now())"
            " WHERE job = :job AND holder = :holder AND held_until IS NULL"
        ),
        {"until": until, "job": job, "holder": holder},
    )
