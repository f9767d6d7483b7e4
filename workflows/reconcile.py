"""ReconcileWorkflow: one pass of the reconciler, started by a Temporal Schedule.

Finds podcasts whose records disagree with their runs and repairs them
(`podnex.reconcile`); a pass is one activity, so a pass that fails is simply retried.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from workflows.types import RECONCILE_WORKFLOW_TYPE, ReconcileRequest, ReconcileResult


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReconcileRequest) -> ReconcileResult:
        return await workflow.execute_activity_method(
            ReconcileActivities.reconcile_podcasts,
            request,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
