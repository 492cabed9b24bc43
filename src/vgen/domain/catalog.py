"""The model catalog: which public models exist and what each can do.

Invariant: a request that passes `ModelCatalog.check` is one its model can render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from vgen.domain.errors import InvalidRequest


class Resolution(StrEnum):
    P720 = "720p"
    P1080 = "1080p"
    K4 = "4K"

    @classmethod
    def parse(cls, value: str) -> Resolution | None:
        """Case-insensitive lookup (`4k`, `720P` are accepted, API.md §1.1)."""
        return _RESOLUTIONS_BY_LOWER.get(value.lower())


_RESOLUTIONS_BY_LOWER = {r.value.lower(): r for r in Resolution}


class AspectRatio(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"


class Mode(StrEnum):
    TEXT = "text"
    FIRST_FRAME = "first_frame"
    FIRST_LAST = "first_last"
    REFERENCES = "references"


_LANDSCAPE_SIZES = {
    Resolution.P720: (1280, 720),
    Resolution.P1080: (1920, 1080),
    Resolution.K4: (3840, 2160),
}


def frame_size(resolution: Resolution, aspect_ratio: AspectRatio) -> tuple[int, int]:
    """Width and height in pixels; 9:16 is the transpose of 16:9."""
    width, height = _LANDSCAPE_SIZES[resolution]
    return (width, height) if aspect_ratio is AspectRatio.LANDSCAPE else (height, width)


ALL_MODES = frozenset(Mode)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    resolutions: frozenset[Resolution] = frozenset(Resolution)
    modes: frozenset[Mode] = ALL_MODES
    durations_s: frozenset[int] = frozenset({8})
    default_duration_s: int = 8
    typical_seconds: float = 60.0
    min_seconds: float = 30.0
    """The least time the model typically takes: a remote job's first poll waits this long."""


VEO_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("veo_3_1_fast", "Veo 3.1 Fast", typical_seconds=60, min_seconds=30),
    ModelSpec("veo_3_1_pro", "Veo 3.1", typical_seconds=120, min_seconds=60),
    ModelSpec(
        "veo_3_1_fast_stable",
        "Veo 3.1 Fast (stable): first/last-frame mode only",
        resolutions=frozenset({Resolution.P720, Resolution.P1080}),
        modes=frozenset({Mode.FIRST_FRAME, Mode.FIRST_LAST}),
        typical_seconds=60,
        min_seconds=30,
    ),
    ModelSpec(
        "veo_3_1_pro_stable",
        "Veo 3.1 (stable)",
        resolutions=frozenset({Resolution.P720, Resolution.P1080}),
        typical_seconds=120,
        min_seconds=60,
    ),
)
VEO_MODEL_NAMES = tuple(spec.name for spec in VEO_MODELS)
OMNI_MODELS: tuple[ModelSpec, ...] = (
    # Google's video model on the Gemini API (Interactions API): 720p/1080p/4K, text, a first
    # frame or reference images (no last frame); docs/engines.md lists what is confirmed.
    ModelSpec(
        "gemini_omni_flash",
        "Gemini Omni Flash (Interactions API)",
        modes=frozenset({Mode.TEXT, Mode.FIRST_FRAME, Mode.REFERENCES}),
        durations_s=frozenset({4, 6, 8, 10}),
        typical_seconds=40,
        min_seconds=20,
    ),
)
OMNI_MODEL_NAMES = tuple(spec.name for spec in OMNI_MODELS)
DEFAULT_MODEL = "veo_3_1_fast"
"""The model of a create request that names none (OpenAI dialect, SDK, CLI)."""


@dataclass(frozen=True)
class ModelCatalog:
    models: Mapping[str, ModelSpec] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls, extra: Iterable[ModelSpec] = ()) -> ModelCatalog:
        models = {m.name: m for m in (*VEO_MODELS, *OMNI_MODELS)}
        models.update({m.name: m for m in extra})
        return cls(models=models)

    def get(self, name: str) -> ModelSpec:
        spec = self.models.get(name)
        if spec is None:
            known = ", ".join(sorted(self.models))
            raise InvalidRequest(
                f"Unknown model '{name}'. Available models: {known}.",
                param="model",
                code="model_not_found",
            )
        return spec
