"""Scoring requests together: one model call for the requests that arrive at the same time.

Calling a scikit-learn pipeline costs about the same for one row as for a few dozen, so
requests that arrive while the model is busy are scored in one call when it is free
(up to ``max_records`` rows). Scoring runs on the event loop's thread: a model call on a
few rows is short, and one thread avoids handing the interpreter lock back and forth with
the request handlers. A request of more than ``max_records`` rows is not batched: it is
scored in a worker thread, ``max_records`` rows per model call, so that the event loop keeps
answering small requests meanwhile. A batch that fails is scored again request by request,
so one bad request cannot fail the others.

Background jobs (shadow copies) run only when no request is waiting, so they never delay
an answer; beyond ``max_background`` waiting records new ones are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from govml.serving.deployment import Deployment, Scores

logger = logging.getLogger("govml.serving")

Done = Callable[[Scores | None, BaseException | None], None]


@dataclass(eq=False)
class _Job:
    deployment: Deployment
    values: dict[str, list[Any]]
    count: int
    future: asyncio.Future[Scores] | None = None
    done: Done | None = None
    offset: int = field(default=0)


class Batcher:
    """Groups scoring jobs per deployment and runs one model call per group.

    Parameters
    ----------
    max_records : int
        Most rows in one model call.
    max_background : int
        Most rows of background jobs waiting.
    on_batch : callable, optional
        Called with the row count of each model call (for the batch-size histogram).
    executor : Executor, optional
        Where requests of more than ``max_records`` rows are scored (the loop's default
        executor when None).
    """

    def __init__(
        self,
        *,
        max_records: int,
        max_background: int,
        on_batch: Callable[[int], None] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.max_records = max_records
        self.max_background = max_background
        self.on_batch = on_batch
        self.executor = executor
        self._jobs: list[_Job] = []
        self._background: deque[_Job] = deque()
        self._background_records = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the scoring task on the running event loop."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="govml-batcher")

    async def stop(self) -> None:
        """Finish the background jobs still waiting, then stop."""
        while self._background:
            self._run_background()
            await asyncio.sleep(0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def score(
        self,
        deployment: Deployment,
        values: dict[str, list[Any]],
        count: int,
        *,
        in_worker: bool = False,
    ) -> Scores:
        """Score ``count`` validated records with ``deployment``, batched with other requests.

        A request of more than ``max_records`` records, or one ``in_worker`` (a large body),
        is scored alone in a worker thread, ``max_records`` rows per model call.

        Raises
        ------
        Exception
            Whatever the model raised for these records.
        """
        assert self._wake is not None, "Batcher.start() was not called"
        loop = asyncio.get_running_loop()
        if in_worker or count > self.max_records:
            scores = await loop.run_in_executor(
                self.executor, deployment.score_in_chunks, values, count, self.max_records
            )
            if self.on_batch is not None:
                for start in range(0, count, self.max_records):
                    self.on_batch(min(self.max_records, count - start))
            return scores
        future: asyncio.Future[Scores] = loop.create_future()
        self._jobs.append(_Job(deployment, values, count, future=future))
        self._wake.set()
        return await future

    def submit_background(
        self, deployment: Deployment, values: dict[str, list[Any]], count: int, done: Done
    ) -> bool:
        """Queue a job to run when no request waits; False (not queued) when too many wait."""
        if self._wake is None or self._background_records + count > self.max_background:
            return False
        self._background.append(_Job(deployment, values, count, done=done))
        self._background_records += count
        self._wake.set()
        return True

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let the requests that arrived in the same loop iteration join this batch.
            await asyncio.sleep(0)
            while self._jobs:
                jobs, self._jobs = self._jobs, []
                for group in _groups(jobs, self.max_records):
                    self._run_group(group)
                await asyncio.sleep(0)
            if self._background:
                self._run_background()
                if self._background:
                    self._wake.set()

    def _run_background(self) -> None:
        taken: list[_Job] = []
        rows = 0
        while self._background and rows < self.max_records:
            job = self._background.popleft()
            self._background_records -= job.count
            if job.count > self.max_records:
                self._in_worker(job)
                continue
            taken.append(job)
            rows += job.count
        for group in _groups(taken, self.max_records):
            self._run_group(group)

    def _in_worker(self, job: _Job) -> None:
        """Score a large background job in a worker thread, then report it on the loop."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self.executor, job.deployment.score_in_chunks, job.values, job.count, self.max_records
        )

        def finished(future: asyncio.Future[Scores]) -> None:
            error = future.exception()
            _finish(job, None if error is not None else future.result(), error)

        work.add_done_callback(finished)

    def _run_group(self, group: list[_Job]) -> None:
        deployment = group[0].deployment
        if len(group) == 1:
            values = group[0].values
        else:
            values = {
                spec.name: list(chain.from_iterable(job.values[spec.name] for job in group))
                for spec in deployment.inputs
            }
        rows = sum(job.count for job in group)
        try:
            scores = deployment.score(values)
        except Exception as exc:
            if len(group) > 1:
                for job in group:
                    self._run_group([job])
                return
            _finish(group[0], None, exc)
            return
        if self.on_batch is not None:
            self.on_batch(rows)
        offset = 0
        for job in group:
            end = offset + job.count
            probabilities, features = scores.probabilities, scores.features
            part = Scores(
                predictions=scores.predictions[offset:end],
                probabilities=None if probabilities is None else probabilities[offset:end],
                features=None if features is None else features[offset:end],
            )
            _finish(job, part, None)
            offset = end


def _groups(jobs: list[_Job], max_records: int) -> list[list[_Job]]:
    """Split jobs into groups of one deployment with at most ``max_records`` rows each."""
    by_deployment: dict[int, list[list[_Job]]] = {}
    rows: dict[int, int] = {}  # rows in the last group of each deployment
    for job in jobs:
        key = id(job.deployment)
        groups = by_deployment.setdefault(key, [[]])
        if groups[-1] and rows[key] + job.count > max_records:
            groups.append([])
            rows[key] = 0
        groups[-1].append(job)
        rows[key] = rows.get(key, 0) + job.count
    return [group for groups in by_deployment.values() for group in groups]


def _finish(job: _Job, scores: Scores | None, error: BaseException | None) -> None:
    if job.future is not None:
        if job.future.done():  # the request was cancelled meanwhile
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            assert scores is not None
            job.future.set_result(scores)
        return
    if job.done is not None:
        try:
            job.done(scores, error)
        except Exception:
            logger.exception("a background scoring callback failed")
