"""Image intake: every image a client names (upload, data: URL, http(s) URL, asset://) is
checked and archived once, at create time, so a task never depends on a URL that may die.

Invariant: a reference that comes out of `ImageIntake` names a stored file of the tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio.to_thread
import httpx

from vgen.domain.errors import InvalidRequest
from vgen.domain.files import ASSET_SCHEME, StoredFile, asset_file_id, asset_ref
from vgen.domain.ids import IdFactory, is_file_id
from vgen.media.data_url import decode_data_url
from vgen.media.image_check import CheckedImage, ImageLimits, check_image
from vgen.media.image_fetch import fetch_image
from vgen.storage.base import ArchiveStorage
from vgen.store.files import FileRepository


class ImageIntake:
    def __init__(
        self,
        *,
        files: FileRepository,
        storage: ArchiveStorage,
        http_client: httpx.AsyncClient,
        limits: ImageLimits,
        allow_private_urls: bool,
        clock: Callable[[], float],
        id_factory: IdFactory,
    ) -> None:
        self._files = files
        self._storage = storage
        self._http = http_client
        self._limits = limits
        self._allow_private = allow_private_urls
        self._clock = clock
        self._new_id = id_factory

    async def store_upload(self, tenant_id: str, data: bytes, *, param: str = "file") -> StoredFile:
        """Check and archive uploaded bytes (`POST /v1/files`)."""
        checked = await anyio.to_thread.run_sync(
            lambda: check_image(data, limits=self._limits, param=param)
        )
        return await self._archive(tenant_id, checked)

    async def resolve_refs(self, tenant_id: str, refs: Mapping[str, str]) -> dict[str, str]:
        """Each field's reference replaced by an `asset://` reference to a stored file."""
        return {field: await self._resolve(tenant_id, field, ref) for field, ref in refs.items()}

    async def _resolve(self, tenant_id: str, field: str, ref: str) -> str:
        ref = ref.strip()
        if ref.startswith(ASSET_SCHEME):
            file_id = asset_file_id(ref)
            if not is_file_id(file_id) or await self._files.get(tenant_id, file_id) is None:
                raise InvalidRequest(
                    f"{field}: no uploaded file '{file_id}'.", param=field, code="file_not_found"
                )
            return asset_ref(file_id)
        if ref.startswith("data:"):
            data = decode_data_url(ref, max_bytes=self._limits.max_bytes, param=field)
        elif ref.startswith(("http://", "https://")):
            data = await fetch_image(
                ref,
                client=self._http,
                limits=self._limits,
                allow_private=self._allow_private,
                param=field,
            )
        else:
            raise InvalidRequest(
                f"{field} must be an http(s) URL, a data:image/...;base64 URL or an asset:// "
                "reference from POST /v1/files.",
                param=field,
                code="invalid_image_reference",
            )
        stored = await self.store_upload(tenant_id, data, param=field)
        return asset_ref(stored.id)

    async def _archive(self, tenant_id: str, checked: CheckedImage) -> StoredFile:
        file_id = self._new_id()
        stored = StoredFile(
            id=file_id,
            tenant_id=tenant_id,
            mime_type=checked.mime_type,
            size_bytes=len(checked.data),
            width=checked.width,
            height=checked.height,
            storage_key=f"inputs/{tenant_id}/{file_id}.{checked.extension}",
            created_at=self._clock(),
        )
        await self._storage.put_bytes(stored.storage_key, checked.data)
        await self._files.create(stored)
        return stored
