"""`VideoRequest`: one validated request for a video, independent of the wire dialect.

Invariant: every VideoRequest that exists has been checked against its model's spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from vgen.domain.catalog import AspectRatio, Mode, ModelSpec, Resolution, frame_size
from vgen.domain.errors import InvalidRequest
from vgen.domain.fair_share import Priority


@dataclass(frozen=True)
class VideoRequest:
    model: str
    prompt: str
    resolution: Resolution = Resolution.P720
    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE
    duration_s: int = 8
    first_image: str | None = None
    last_image: str | None = None
    references: tuple[str, ...] = ()
    negative_prompt: str | None = None
    seed: int | None = None
    callback_url: str | None = None
    priority: Priority = Priority.NORMAL  # orders the tenant's own queued tasks (API.md §6)

    @property
    def mode(self) -> Mode:
        if self.references:
            return Mode.REFERENCES
        if self.first_image and self.last_image:
            return Mode.FIRST_LAST
        if self.first_image:
            return Mode.FIRST_FRAME
        return Mode.TEXT

    @property
    def size(self) -> tuple[int, int]:
        return frame_size(self.resolution, self.aspect_ratio)

    def image_refs(self) -> dict[str, str]:
        """Every image reference keyed by the request field it came from."""
        refs = {f"input_reference[{i}]": ref for i, ref in enumerate(self.references)}
        if self.first_image:
            refs["first_image"] = self.first_image
        if self.last_image:
            refs["last_image"] = self.last_image
        return refs

    def with_images(self, resolved: Mapping[str, str]) -> VideoRequest:
        """A copy whose image references are replaced by `resolved` (keyed as `image_refs`)."""
        references = tuple(resolved[f"input_reference[{i}]"] for i in range(len(self.references)))
        return replace(
            self,
            references=references,
            first_image=resolved.get("first_image", self.first_image),
            last_image=resolved.get("last_image", self.last_image),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["references"] = list(self.references)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VideoRequest:
        return cls(
            model=data["model"],
            prompt=data["prompt"],
            resolution=Resolution(data["resolution"]),
            aspect_ratio=AspectRatio(data["aspect_ratio"]),
            duration_s=int(data["duration_s"]),
            first_image=data.get("first_image"),
            last_image=data.get("last_image"),
            references=tuple(data.get("references") or ()),
            negative_prompt=data.get("negative_prompt"),
            seed=data.get("seed"),
            callback_url=data.get("callback_url"),
            priority=Priority(data.get("priority") or Priority.NORMAL),
        )


def check_against_model(request: VideoRequest, spec: ModelSpec) -> None:
    """Raise InvalidRequest when `spec` cannot render `request` (API.md §1.1 rules)."""
    if request.resolution not in spec.resolutions:
        allowed = ", ".join(sorted(r.value for r in spec.resolutions))
        raise InvalidRequest(
            f"Model '{spec.name}' does not support resolution {request.resolution.value}; "
            f"supported: {allowed}.",
            param="resolution",
        )
    if request.mode not in spec.modes:
        raise InvalidRequest(_mode_message(spec, request.mode), param=_mode_param(spec))
    if request.duration_s not in spec.durations_s:
        allowed = ", ".join(str(d) for d in sorted(spec.durations_s))
        raise InvalidRequest(
            f"Model '{spec.name}' supports durations of {allowed} seconds, "
            f"not {request.duration_s}.",
            param="duration",
        )


def _mode_param(spec: ModelSpec) -> str:
    needs_first = spec.modes <= {Mode.FIRST_FRAME, Mode.FIRST_LAST}
    return "first_image" if needs_first else "input_reference"


def _mode_message(spec: ModelSpec, mode: Mode) -> str:
    if spec.modes <= {Mode.FIRST_FRAME, Mode.FIRST_LAST}:
        return f"Model '{spec.name}' supports first/last-frame mode only: first_image is required."
    return f"Model '{spec.name}' does not support {mode.value.replace('_', ' ')} mode."
