"""Deliver one webhook attempt, and start the deliveries of a finished podcast's event."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.context import ActivityDeps, log
from podnex import webhooks
from workflows.types import (
    DELIVER_WEBHOOK_ACTIVITY,
    WEBHOOK_WORKFLOW_TYPE,
    WebhookDeliveryInput,
    webhook_retry_delay,
    webhook_workflow_id,
)


async def start_deliveries(client: Client, task_queue: str, delivery_ids: list[uuid.UUID]) -> None:
    """Start each delivery's workflow once: a workflow id per delivery, so a retried
    activity finds the one it started (running or closed) and starts nothing."""
    for delivery_id in delivery_ids:
        with contextlib.suppress(WorkflowAlreadyStartedError):  # delivered or given up on
            await client.start_workflow(
                WEBHOOK_WORKFLOW_TYPE,
                WebhookDeliveryInput(delivery_id=str(delivery_id)),
                id=webhook_workflow_id(str(delivery_id)),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )


class WebhookActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    async def _record(
        self,
        delivery_id: uuid.UUID,
        attempt: webhooks.Attempt,
        outcome: webhooks.Outcome,
        next_attempt_at: datetime | None,
        *,
        reason: str | None = None,
    ) -> None:
        """Write one attempt (and the delivery's outcome) to the delivery log."""
        async with self.deps.db.transaction() as session:
            await webhooks.record_attempt(
                session,
                delivery_id,
                attempt,
                outcome=outcome,
                next_attempt_at=next_attempt_at,
                policy=self.deps.webhooks,
                reason=reason,
            )

    @activity.defn(name=DELIVER_WEBHOOK_ACTIVITY)
    async def deliver_webhook(self, request: WebhookDeliveryInput) -> None:
        """One signed POST; a failure is retried by Temporal until the window has passed."""
        policy = self.deps.webhooks
        delivery_id = uuid.UUID(request.delivery_id)
        async with self.deps.db.transaction() as session:
            target = await webhooks.target_of(session, delivery_id)
        if target is None:
            log().info("webhook delivery gone (endpoint deleted)", delivery_id=str(delivery_id))
            return
        now = self.deps.clock()
        reason = None
        if not target.endpoint.enabled:
            reason = f"Endpoint disabled: {target.endpoint.disabled_reason or 'by its owner'}"
        else:
            problem = await webhooks.url_problem(
                target.endpoint.url, allow_private=policy.allow_private
            )
            if problem:
                reason = f"URL refused: {problem}"
        if reason is not None:
            attempt = webhooks.Attempt(at=now, status_code=None, error=reason, duration_ms=0)
            await self._record(delivery_id, attempt, "FAILED", None, reason=reason)
            raise ApplicationError(reason, type="WebhookRefused", non_retryable=True)

        attempt = await webhooks.send(target, now, timeout_seconds=policy.timeout_seconds)
        if attempt.succeeded:
            await self._record(delivery_id, attempt, "SUCCEEDED", None)
            log().info(
                "webhook delivered", delivery_id=str(delivery_id), status=attempt.status_code
            )
            return
        expired = now - target.delivery.window_started_at >= policy.give_up_after
        if expired:
            reason = f"Gave up after {policy.give_up_after}: {attempt.error}"
            await self._record(delivery_id, attempt, "FAILED", None, reason=reason)
            raise ApplicationError(reason, type="WebhookGaveUp", non_retryable=True)
        next_at = now + webhook_retry_delay(activity.info().attempt)
        await self._record(delivery_id, attempt, "RETRYING", next_at)
        raise ApplicationError(
            f"webhook delivery failed: {attempt.error}", type="WebhookDeliveryFailed"
        )
