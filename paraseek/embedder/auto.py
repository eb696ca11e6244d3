"""Precision "auto": the fastest runtime available here whose vectors match float32's.

Order tried on the CPU: OpenVINO int8 (built once, checked on held-out texts, cached), then
torch bfloat16 on CPUs with native bf16 (AVX512-BF16 or AMX), then torch float32. On a CUDA GPU
(`on_gpu`): torch float16, checked against float32 on the CPU, else float32 on the GPU. A runtime is used
only if its vectors have cosine >= CHECK_MIN_COSINE with float32's on every held-out text and it
is faster than float32; the figures are kept in the build's build.json.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from collections.abc import Sequence
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RuntimeUnavailableError
from . import cache as builds
from .base import Encoder, ModelSpec, embed_sorted
from .models import has_bf16, model_folder
from .torch_runtime import TorchEncoder, describe, export_module, save_tokenizer

CHECK_MIN_COSINE = 0.99
_CALIBRATION_BATCH = 8
_CHECK_BATCH = 32
_INT8 = "openvino-int8"


@cache
def _calibration_file() -> str:
    return (resources.files(__package__) / "calibration.txt").read_text(encoding="utf-8")


@cache
def calibration_words() -> list[str]:
    """The distinct words of the calibration text, lower-cased, numbers aside (the sample
    that `words.basis` takes the model's axes of word meaning from)."""
    return sorted({w.lower() for w in re.findall(r"[^\W\d_]+", _calibration_file())})


def calibration_texts() -> tuple[list[str], list[str]]:
    """Texts to calibrate int8 on, and held-out texts to check it on (every fourth one).

    Returns:
        (calibration, check): passages of the sample corpus, generic English paragraphs and
        short queries, one text each.
    """
    lines = [t for t in _calibration_file().splitlines() if t.strip() and not t.startswith("#")]
    check = lines[3::4]
    return [t for i, t in enumerate(lines) if i % 4 != 3], check


def library_versions(*packages: str) -> dict[str, str]:
    """The installed version of each package, and the calibration text's hash ("c")."""
    short = {"openvino": "ov", "nncf": "nncf", "torch": "torch"}
    found = {short.get(p, p): metadata.version(p) for p in packages}
    found["c"] = hashlib.sha256(_calibration_file().encode()).hexdigest()[:8]
    return found


def _missing(*modules: str) -> str:
    """A note naming the first module that is not installed, or ""."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            return f"{name} not installed"
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def compare(
    candidate: Encoder, reference: Encoder, texts: Sequence[str], prompts: Sequence[str]
) -> dict[str, Any]:
    """Cosines between `candidate`'s and `reference`'s vectors of `texts`, and both speeds.

    Returns:
        {"texts", "min_cosine", "mean_cosine", "per_s", "fp32_per_s"}: cosines over every text
        and prompt; speeds in texts per second after a warm-up.
    """
    cosines: list[np.ndarray] = []
    seconds = {"candidate": 0.0, "reference": 0.0}
    for encoder in (candidate, reference):
        encoder.encode(list(texts[:2]), prompts[0])  # warm-up: first calls pay for set-up
    for prompt in dict.fromkeys(prompts):
        vectors = {}
        for name, encoder in (("reference", reference), ("candidate", candidate)):
            start = time.perf_counter()
            vectors[name] = embed_sorted(encoder, texts, prompt, _CHECK_BATCH)
            seconds[name] += time.perf_counter() - start
        cosines.append(np.sum(vectors["candidate"] * vectors["reference"], axis=1))
    every = np.concatenate(cosines)
    count = len(every)
    return {
        "texts": len(texts),
        "min_cosine": round(float(every.min()), 5),
        "mean_cosine": round(float(every.mean()), 5),
        "per_s": round(count / max(seconds["candidate"], 1e-9), 1),
        "fp32_per_s": round(count / max(seconds["reference"], 1e-9), 1),
    }


def _verdict(label: str, figures: dict[str, Any], faster: bool = True) -> str:
    """A one-line note saying why the figures fail the check; empty if they pass.

    Args:
        faster: the candidate must also have been faster than fp32 on the held-out texts.
    """
    if figures["min_cosine"] < CHECK_MIN_COSINE:
        return (
            f"{label} failed the check: min cosine {figures['min_cosine']:.4f} < {CHECK_MIN_COSINE}"
        )
    if faster and figures["per_s"] <= figures["fp32_per_s"]:
        return (
            f"{label} was not faster than fp32 here "
            f"({figures['per_s']:.1f} vs {figures['fp32_per_s']:.1f} texts/s)"
        )
    return ""


def _build_int8(fp32: TorchEncoder, model_id: str, temp: Path) -> dict[str, Any]:
    """Export, quantise and check the model into the folder `temp`; the build.json content.

    Each recipe (openvino_runtime.RECIPES) is tried in turn until one passes the check; a
    recipe that is too slow ends the search, as the later ones are slower still.
    """
    from .openvino_runtime import (
        MODEL_FILE,
        RECIPES,
        TOKENIZER_FILE,
        OpenVINOEncoder,
        Tokens,
        quantise,
    )

    start = time.perf_counter()
    record: dict[str, Any] = {"model_id": model_id, "runtime": _INT8, "passed": False}
    try:
        spec = describe(fp32)
    except RuntimeUnavailableError as exc:
        return {**record, "note": str(exc)}
    calibration, check = calibration_texts()
    try:
        save_tokenizer(fp32, temp / TOKENIZER_FILE)
        tokens = Tokens(temp, spec)
        if any(tokens.spans(t) != fp32.token_spans(t) for t in check):
            return {**record, "note": "saved tokenizer splits text differently from the model's"}
        calibration.sort(key=len)
        feeds = [
            tokens.batch(calibration[i : i + _CALIBRATION_BATCH], spec.document_prompt)
            for i in range(0, len(calibration), _CALIBRATION_BATCH)
        ]
        module, example = export_module(fp32, spec)
        prompts = [spec.document_prompt, spec.query_prompt]
        for recipe, keep_float in RECIPES.items():
            quantise(module, example, feeds, temp / MODEL_FILE, keep_float)
            # Compared and dropped at once: the next recipe overwrites the files it maps.
            figures = compare(OpenVINOEncoder(temp, spec), fp32, check, prompts)
            figures.update(recipe=recipe, build_seconds=round(time.perf_counter() - start, 1))
            note = _verdict("int8", figures)
            if figures["min_cosine"] >= CHECK_MIN_COSINE:  # passed, or too slow: so are the rest
                break
    except OSError:
        raise
    except Exception as exc:  # the converter or quantiser gave up on this model: remember it
        return {**record, "note": f"int8 build failed: {_first_line(exc)}"}
    spec = ModelSpec.from_json({**spec.to_json(), "check": figures})
    return {**record, "passed": not note, "note": note, "spec": spec.to_json()}


def _open_int8(where: Path, found: dict[str, Any]) -> tuple[Encoder | None, str]:
    """The built int8 encoder in `where`, or None and the reason it cannot be used."""
    if not found.get("passed"):
        return None, str(found.get("note") or "int8 build failed")
    try:
        from .openvino_runtime import OpenVINOEncoder

        return OpenVINOEncoder(where, ModelSpec.from_json(found["spec"]), keep_compiled=True), ""
    except Exception as exc:  # a damaged cache or a changed openvino: fall back, say why
        return (
            None,
            f"cannot load the int8 model in {where} (delete it to rebuild): {_first_line(exc)}",
        )


def fastest(model_id: str, target: str) -> tuple[Encoder, str]:
    """The fastest verified encoder of the model, and a note on why auto fell back ("" if not).

    The note says why int8 was not used, also when torch bfloat16 was used in its place.

    With an int8 build already cached, neither torch nor transformers is imported.

    Raises:
        ModelLoadError: the model cannot be loaded at all.
    """
    note = _missing("openvino", "nncf", "tokenizers")
    folder = model_folder(target)
    if not note and folder is not None:
        encoder, note = _int8(model_id, folder, None)
        if encoder is not None:
            return encoder, ""
    fp32 = TorchEncoder(model_id, target)
    folder = folder or model_folder(target)  # a hub model is in the local cache once loaded
    if folder is None:
        return fp32, note or f"no local files of '{model_id}' to convert"
    if not note:
        encoder, note = _int8(model_id, folder, fp32)
        if encoder is not None:
            return encoder, ""
    if has_bf16():
        bf16 = _bf16(fp32, model_id, target, folder)
        if bf16 is not None:
            return bf16, note  # still says why int8 was not used
    return fp32, note


def on_gpu(model_id: str, target: str) -> tuple[Encoder, str]:
    """The model on the CUDA GPU in float16 if it passes the check, else in float32 there.

    The check (cosine >= CHECK_MIN_COSINE with float32 on the CPU, every held-out text) runs
    once per model, torch version and GPU; its verdict is cached like a build.

    Returns:
        (encoder, note): the note says why float16 was not used ("" if it was).

    Raises:
        ModelLoadError: the model cannot be loaded.
    """
    import torch

    candidate = TorchEncoder(model_id, target, "fp16", device="cuda")
    folder = model_folder(target)
    try:
        if folder is None:
            raise OSError(f"no local files of '{model_id}' to key the check by")
        gpu = torch.cuda.get_device_name()
        where = builds.build_folder(
            model_id, folder, "torch-cuda-fp16", {**library_versions("torch"), "gpu": gpu}
        )

        def check(_: Path) -> dict[str, Any]:
            fp32 = TorchEncoder(model_id, target)
            figures = compare(
                candidate, fp32, calibration_texts()[1], [fp32.document_prompt, fp32.query_prompt]
            )
            figures["gpu"] = gpu
            # Speed is not judged: fp32's figure here is the CPU's, and a few held-out texts
            # time the GPU's start-up more than its work (fp16 halves its memory either way).
            note = _verdict("fp16 on the GPU", figures, faster=False)
            return {"model_id": model_id, "passed": not note, "note": note, "check": figures}

        found = builds.build_once(where, check)
        note = "" if found.get("passed") else str(found.get("note") or "fp16 failed the check")
    except OSError as exc:
        note = f"cannot check fp16 on the GPU: {_first_line(exc)}"
    if not note:
        return candidate, ""
    return TorchEncoder(model_id, target, device="cuda"), note


def _int8(model_id: str, folder: Path, fp32: TorchEncoder | None) -> tuple[Encoder | None, str]:
    """The int8 encoder from the cache, built first if `fp32` is given; or None and why not.

    Returns:
        (encoder, ""), or (None, note); (None, "") when nothing is cached and `fp32` is None.
    """
    try:
        where = builds.build_folder(model_id, folder, _INT8, library_versions("openvino", "nncf"))
        if fp32 is None:
            found = builds.read_build(where)
            return _open_int8(where, found) if found is not None else (None, "")
        found = builds.build_once(where, lambda temp: _build_int8(fp32, model_id, temp))
        return _open_int8(where, found)
    except OSError as exc:
        return None, f"cannot use the cache {builds.cache_root()}: {_first_line(exc)}"
    except Exception as exc:  # any other failure of the build: fp32 still works
        return None, f"int8 build failed: {_first_line(exc)}"


def _bf16(fp32: TorchEncoder, model_id: str, target: str, folder: Path) -> Encoder | None:
    """Torch in bfloat16 if it passes the check (cached as a build without files), else None."""
    try:
        where = builds.build_folder(model_id, folder, "torch-bf16", library_versions("torch"))
        found = builds.read_build(where)
        if found is not None and not found.get("passed"):
            return None
        candidate = TorchEncoder(model_id, target, "bf16")

        def check(_: Path) -> dict[str, Any]:
            figures = compare(
                candidate, fp32, calibration_texts()[1], [fp32.document_prompt, fp32.query_prompt]
            )
            note = _verdict("bf16", figures)
            return {"model_id": model_id, "passed": not note, "note": note, "check": figures}

        return candidate if builds.build_once(where, check).get("passed") else None
    except Exception:  # bf16 is only ever a bonus: fp32 is the answer to any trouble here
        return None
