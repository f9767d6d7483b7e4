"""Local-folder storage: the embedded default. Downloads go through signed API URLs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from podnex.storage.base import ObjectNotFound, StoredObject, validate_key

_META_SUFFIX = ".meta.json"


class LocalStorage:
    """Objects as files under `root`; metadata and content type in a sidecar JSON file."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path_for(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _write(self, key: str, data: bytes, meta: dict[str, object]) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, payload in (
            (Path(str(path) + _META_SUFFIX), json.dumps(meta).encode()),
            (path, data),
        ):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, target)

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        meta: dict[str, object] = {"content_type": content_type, "metadata": dict(metadata or {})}
        await asyncio.to_thread(self._write, key, data, meta)
        return StoredObject(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def _read_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self.path_for(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        return await asyncio.to_thread(self._read_range, key, start, length)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    def stat_sync(self, key: str) -> StoredObject:
        path = self.path_for(key)
        try:
            size = path.stat().st_size
            meta = json.loads(Path(str(path) + _META_SUFFIX).read_text())
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        return StoredObject(key=key, size=size, content_type=str(meta["content_type"]))

    async def stat(self, key: str) -> StoredObject:
        return await asyncio.to_thread(self.stat_sync, key)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        for target in (path, Path(str(path) + _META_SUFFIX)):
            await asyncio.to_thread(target.unlink, missing_ok=True)

    def _delete_prefix(self, prefix: str) -> int:
        base = self.path_for(prefix.rstrip("/"))
        if base.is_dir():
            count = sum(
                1 for p in base.rglob("*") if p.is_file() and not p.name.endswith(_META_SUFFIX)
            )
            shutil.rmtree(base, ignore_errors=True)
            return count
        return 0

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a folder-like prefix ending in `/`."""
        return await asyncio.to_thread(self._delete_prefix, prefix)
