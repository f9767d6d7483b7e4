"""Temporal connection and naming shared by the API, the worker and the tools."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

from podnex.settings import Settings

PODCAST_ID = SearchAttributeKey.for_keyword("PodcastId")
USER_ID = SearchAttributeKey.for_keyword("UserId")
DATA_CONVERTER = pydantic_data_converter


def workflow_id_for(podcast_id: str) -> str:
    return f"podcast-{podcast_id}"


async def connect(settings: Settings) -> Client:
    """A client with the one data converter every podnex process uses."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
    )
