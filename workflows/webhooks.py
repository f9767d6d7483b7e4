"""WebhookDeliveryWorkflow: one event delivered to one endpoint, durably.

One activity, retried by Temporal with backoff (`WEBHOOK_RETRY_*`) until it answers 2xx or
decides, past the delivery's window, that it gives up (a non-retryable failure). Each
attempt is written into the delivery log by the activity itself.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from workflows.types import (
        WEBHOOK_RETRY_BACKOFF,
        WEBHOOK_RETRY_INITIAL,
        WEBHOOK_RETRY_MAX_INTERVAL,
        WEBHOOK_WORKFLOW_TYPE,
        WebhookDeliveryInput,
    )

WEBHOOK_RETRY = RetryPolicy(
    initial_interval=WEBHOOK_RETRY_INITIAL,
    backoff_coefficient=WEBHOOK_RETRY_BACKOFF,
    maximum_interval=WEBHOOK_RETRY_MAX_INTERVAL,
    maximum_attempts=0,  # the activity decides when to stop (its window has passed)
)


@workflow.defn(name=WEBHOOK_WORKFLOW_TYPE)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, input: WebhookDeliveryInput) -> str:
        """SUCCEEDED, or FAILED once the activity gave up (already recorded)."""
        try:
            await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                input,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=WEBHOOK_RETRY,
                summary=f"delivery {input.delivery_id}",
            )
        except ActivityError:
            return "FAILED"
        return "SUCCEEDED"
