"""Per-epoch training checkpoints: one safetensors file holding everything needed to resume exactly.

Tensors: model weights (``model.*``), best weights so far (``best.*``), Adam moments (``optim.<i>.*``) and
both RNG states (``rng.*``); the loop's counters, history, and the optimizer's hyperparameters (which a
learning-rate schedule moves) ride in the file's JSON metadata. One file
means one atomic rename: a crash leaves the previous epoch's checkpoint intact. Never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from hpcast._io import atomic_write_bytes

__all__ = ["CHECKPOINT_FILE", "Checkpoint", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FILE = "last.safetensors"


@dataclass(frozen=True)
class Checkpoint:
    best_state: dict[str, torch.Tensor]
    meta: dict[str, Any]


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    shuffle: torch.Generator, best_state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    tensors |= {f"best.{k}": v.detach().cpu().clone().contiguous() for k, v in best_state.items()}
    for index, slots in optimizer.state_dict()["state"].items():
        for name, value in slots.items():
            tensors[f"optim.{index}.{name}"] = torch.as_tensor(value).detach().cpu().clone().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = shuffle.get_state()
    meta = {**meta, "param_groups": optimizer.state_dict()["param_groups"]}  # lr and betas a schedule moved
    atomic_write_bytes(folder / CHECKPOINT_FILE, save(tensors, metadata={"meta": json.dumps(meta)}))


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    shuffle: torch.Generator) -> Checkpoint:
    """Restore model, optimizer and RNG state in place; return the best weights and the loop state."""
    from safetensors import safe_open

    path = folder / CHECKPOINT_FILE
    tensors = load_file(path)
    with safe_open(path, framework="pt") as handle:
        meta = json.loads(handle.metadata()["meta"])
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    groups = meta.get("param_groups", optimizer.state_dict()["param_groups"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    shuffle.set_state(tensors["rng.shuffle"])
    device = next(model.parameters()).device
    best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    return Checkpoint(best_state=best, meta=meta)
