"""Domain metrics of the worker, recorded through Temporal's own meter and exported on the
worker's one metrics port, `http://<WORKER_BIND_HOST>:<WORKER_METRICS_PORT>/metrics`, beside the
Temporal SDK's own series (`temporal_*`: task latencies, slots, polls, failures):

- `podnex_podcasts_finished_total{outcome}`: completed, failed, cancelled or refused
- `podnex_podcast_audio_seconds` (histogram; `_sum` is the seconds of audio produced)
- `podnex_speech_cache_total{result}`: hit or miss, per line synthesised
- `podnex_provider_errors_total{provider, step, kind}`: script writer and speech failures
- `podnex_reconciler_repairs_total{kind}`: podcasts the reconciler repaired (podnex.reconcile)

Temporal's meter adds its own labels (namespace, task_queue, workflow_type or
activity_type). Workflow code records through `workflow.metric_meter()`, which records
nothing while a history is replayed, so a run counts once however often it is replayed.
The API's HTTP metrics live with the API (`api.metrics`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from temporalio.common import MetricMeter

# -- names shared with the tests and the README ---------------------------------------------

PODCASTS_FINISHED = "podnex_podcasts_finished"
AUDIO_SECONDS = "podnex_podcast_audio_seconds"
SPEECH_CACHE = "podnex_speech_cache"
PROVIDER_ERRORS = "podnex_provider_errors"
RECONCILER_REPAIRS = "podnex_reconciler_repairs"

# -- worker (Temporal's meter) --------------------------------------------------------------


def count_finished(meter: MetricMeter, outcome: str) -> None:
    """One podcast run ended: `completed`, `failed`, `cancelled` or `refused` (limits)."""
    meter.create_counter(PODCASTS_FINISHED, "Podcast runs ended, by outcome").add(
        1, {"outcome": outcome}
    )


def record_audio(meter: MetricMeter, seconds: float) -> None:
    """A podcast's audio was published: its length in seconds."""
    meter.create_histogram_float(
        AUDIO_SECONDS, "Length of each published podcast (sum: seconds of audio produced)", "s"
    ).record(seconds)


def count_speech_cache(meter: MetricMeter, *, hit: bool) -> None:
    """A line's speech was found in storage (hit) or had to be synthesised (miss)."""
    meter.create_counter(SPEECH_CACHE, "Lines of speech looked up in the cache, by result").add(
        1, {"result": "hit" if hit else "miss"}
    )


def count_provider_error(meter: MetricMeter, *, provider: str, step: str, kind: str) -> None:
    """A script writer or speech engine failed: `step` is script or speech, `kind` why."""
    meter.create_counter(
        PROVIDER_ERRORS, "Script writer and speech engine failures, by provider, step and kind"
    ).add(1, {"provider": provider, "step": step, "kind": kind})


def count_repair(meter: MetricMeter, kind: str) -> None:
    """The reconciler repaired a podcast: `kind` is what disagreed (podnex.reconcile)."""
    meter.create_counter(RECONCILER_REPAIRS, "Podcasts the reconciler repaired, by kind").add(
        1, {"kind": kind}
    )
