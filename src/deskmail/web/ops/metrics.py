"""Prometheus metrics, read from the database at each scrape.

Counted from the runs and the intake journal rather than in this process's
memory, so every instance on one database reports the same figures and a
restart loses none. The runs of the last 24 hours give the durations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

from deskmail.config.fate import Fate
from deskmail.sources.errors import Step
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Run

_STEPS = sorted((step.value for step in Step), key=len, reverse=True)
DURATION_WINDOW = timedelta(hours=24)


def failed_step(error: str | None) -> str:
    """The step a failed run stopped at ("connect", "authentication", ...), from its error."""
    for step in _STEPS:
        if (error or "").startswith(f"{step} failed"):
            return step
    return "other"


class StoreCollector(Collector):
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "deskmail_runs", "Runs of each job by outcome", labels=["job", "outcome"]
        )
        messages = CounterMetricFamily(
            "deskmail_messages", "Messages taken in, by job and outcome", labels=["job", "outcome"]
        )
        last_success = GaugeMetricFamily(
            "deskmail_job_last_success_timestamp_seconds",
            "End of each job's last successful run (Unix time)",
            labels=["job"],
        )
        durations = SummaryMetricFamily(
            "deskmail_run_duration_seconds",
            "Duration of the runs finished in the last 24 hours",
            labels=["job"],
        )
        quarantine = GaugeMetricFamily(
            "deskmail_quarantine_size", "Messages in quarantine", labels=["job"]
        )
        errors = CounterMetricFamily(
            "deskmail_fetch_errors", "Failed runs by job and failed step", labels=["job", "step"]
        )
        since = datetime.now(UTC) - DURATION_WINDOW
        with self._store.session() as session:
            for job, status, count in session.execute(
                select(Run.job, Run.status, func.count()).group_by(Run.job, Run.status)
            ):
                runs.add_metric([job, status], count)
            for job, outcome, count in session.execute(
                select(IntakeRecord.job, IntakeRecord.outcome, func.count()).group_by(
                    IntakeRecord.job, IntakeRecord.outcome
                )
            ):
                value = outcome.value if isinstance(outcome, Fate) else str(outcome)
                messages.add_metric([job, value], count)
                if outcome == Fate.QUARANTINED:
                    quarantine.add_metric([job], count)
            for job, finished in session.execute(
                select(Run.job, func.max(Run.finished_at))
                .where(Run.status == "ok")
                .group_by(Run.job)
            ):
                if finished is not None:
                    moment = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
                    last_success.add_metric([job], moment.timestamp())
            spans: dict[str, list[float]] = {}
            for job, started, finished in session.execute(
                select(Run.job, Run.started_at, Run.finished_at).where(
                    Run.started_at >= since, Run.finished_at.is_not(None)
                )
            ):
                if finished is not None:
                    spans.setdefault(job, []).append((finished - started).total_seconds())
            for job, seconds in spans.items():
                durations.add_metric([job], count_value=len(seconds), sum_value=sum(seconds))
            failures: dict[tuple[str, str], int] = {}
            for job, error in session.execute(
                select(Run.job, Run.error).where(Run.status == "failed")
            ):
                key = (job, failed_step(error))
                failures[key] = failures.get(key, 0) + 1
            for (job, step), count in failures.items():
                errors.add_metric([job, step], count)
        yield from (runs, messages, last_success, durations, quarantine, errors)


def metrics_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
