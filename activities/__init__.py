"""Temporal activities: one module a step, each thin over the podnex domain code."""

from __future__ import annotations

from typing import Any

from activities.audio import AudioActivities
from activities.context import ActivityDeps
from activities.limits import LimitActivities
from activities.publish import PublishActivities
from activities.reconcile import ReconcileActivities
from activities.script import ScriptActivities
from activities.speech import SpeechActivities
from activities.status import StatusActivities
from activities.storage import StorageActivities
from activities.usage import UsageActivities
from activities.webhooks import WebhookActivities

__all__ = [
    "ActivityDeps",
    "AudioActivities",
    "LimitActivities",
    "PublishActivities",
    "ReconcileActivities",
    "ScriptActivities",
    "SpeechActivities",
    "StatusActivities",
    "StorageActivities",
    "UsageActivities",
    "WebhookActivities",
    "all_activities",
    "speech_activities",
]


def all_activities(deps: ActivityDeps) -> list[Any]:
    """Every activity of PodcastWorkflow, ReconcileWorkflow and WebhookDeliveryWorkflow,
    bound to the worker's dependencies.

    ``synthesize_line`` is among them for runs started before speech moved to per-provider
    task queues (`speech_activities`); newer runs schedule it on those queues.
    """
    limits = LimitActivities(deps)
    storage = StorageActivities(deps)
    usage = UsageActivities(deps)
    return [
        limits.check_limits,
        limits.check_rerender,
        limits.release_podcast,
        ScriptActivities(deps).write_script,
        SpeechActivities(deps).synthesize_line,
        AudioActivities(deps).combine_audio,
        PublishActivities(deps).publish_podcast,
        storage.upload_audio,
        storage.delete_partial_audio,
        storage.delete_previous_audio,
        usage.record_usage,
        usage.settle_usage,
        StatusActivities(deps).update_podcast_status,
        ReconcileActivities(deps).reconcile_podcasts,
        WebhookActivities(deps).deliver_webhook,
    ]


def speech_activities(deps: ActivityDeps) -> list[Any]:
    """The activities a per-provider speech worker serves: lines in batches
    (``synthesize_lines``), and one at a time for runs started before batches."""
    speech = SpeechActivities(deps)
    return [speech.synthesize_lines, speech.synthesize_line]
