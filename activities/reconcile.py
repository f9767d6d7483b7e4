"""The reconciler's one step: find podcasts that disagree with their runs and repair them."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.context import ActivityDeps, heartbeating, log
from podnex import metrics
from podnex.reconcile import RunState, expire_segments, reconcile
from workflows.types import ReconcileRequest, ReconcileResult

_CLOSED_AS: dict[WorkflowExecutionStatus, RunState] = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "completed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TERMINATED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
}


async def run_state(workflow_id: str) -> RunState:
    """The latest run of ``workflow_id``, as the reconciler needs to know it."""
    try:
        description = await activity.client().get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return "missing"
        raise
    if description.status is None or description.status is WorkflowExecutionStatus.RUNNING:
        return "running"
    return _CLOSED_AS.get(description.status, "failed")


class ReconcileActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="reconcile_podcasts")
    async def reconcile_podcasts(self, request: ReconcileRequest) -> ReconcileResult:
        async with heartbeating():
            repairs = await reconcile(
                self.deps.db,
                self.deps.storage,
                run_state,
                now=self.deps.clock(),
                grace=timedelta(seconds=request.grace_seconds),
                limit=request.limit,
            )
            expired = 0
            if request.segment_retention_seconds is not None:
                expired = await expire_segments(
                    self.deps.db,
                    self.deps.storage,
                    now=self.deps.clock(),
                    retention=timedelta(seconds=request.segment_retention_seconds),
                    limit=request.limit,
                )
        meter = activity.metric_meter()
        for repair in repairs:
            metrics.count_repair(meter, repair.kind)
        log().info("reconciled", repairs=len(repairs), segments_expired=expired)
        return ReconcileResult(
            repairs=[f"{repair.kind} {repair.podcast_id}: {repair.detail}" for repair in repairs],
            segments_expired=expired,
        )


__all__ = ["ReconcileActivities", "run_state"]
