"""MTEB model wrappers as mlbench encoders: ``--model mteb:NAME`` (optional extra ``mlbench[mteb]``).

``NAME`` is a model MTEB knows (``mteb.get_model(NAME)``, MTEB's own loader with its prompts and
instructions) or a local sentence-transformers folder (MTEB's ``SentenceTransformerEncoderWrapper``,
which reads the folder's prompts). Every batch goes to the wrapper's ``encode`` with MTEB's prompt
type (``query`` for queries, ``document`` for candidates) and the metadata of an MTEB task, so an
instruction-tuned model gets the prompts MTEB would give it: by default ``MIRACLRetrieval`` (a
multilingual question-to-passage task), or ``--encoder-arg mteb_task=NAME``. The task's name,
the prompt types, MTEB's version and the model's name and revision are in the description (the
cache key). Embeddings are L2-normalised unless ``--encoder-arg normalize=false``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.encoders.base import Kind
from mlbench.errors import MlbenchError

PREFIX = "mteb:"
DEFAULT_TASK = "MIRACLRetrieval"


class MtebEncoder:
    language_dependent = False

    def __init__(self, name: str, mteb_task: str = DEFAULT_TASK, normalize: bool = True, device: str | None = None,
                 revision: str | None = None) -> None:
        try:
            import mteb
        except ImportError:
            raise MlbenchError(f"--model {PREFIX}{name}: mteb is not installed (pip install 'mlbench[mteb]')") from None
        from mteb.types import PromptType

        self.spec = name
        try:
            if Path(name).expanduser().is_dir():
                from mteb.models import SentenceTransformerEncoderWrapper

                self.model = SentenceTransformerEncoderWrapper(str(Path(name).expanduser()), device=device)
            else:
                self.model = mteb.get_model(name, revision=revision, device=device)
            self.task = mteb.get_task(mteb_task).metadata
        except MlbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - mteb and the hub fail in many ways
            raise MlbenchError(f"--model {PREFIX}{name}: mteb cannot load it ({type(exc).__name__}: {exc})") from None
        if not hasattr(self.model, "encode"):
            raise MlbenchError(f"--model {PREFIX}{name}: not an MTEB encoder (no encode())")
        self.types = {"query": PromptType.query, "candidate": PromptType.document}
        self.normalize = normalize
        meta = getattr(self.model, "mteb_model_meta", None)
        self.name = f"{PREFIX}{getattr(meta, 'name', None) or name}"
        self.revision = getattr(meta, "revision", None) or revision
        self.device = str(getattr(getattr(self.model, "model", None), "device", device or "cpu"))

    def describe(self) -> dict[str, Any]:
        prompts = getattr(self.model, "model_prompts", None)
        return {"type": "mteb", "name": self.name, "spec": self.spec, "revision": self.revision,
                "mteb_task": self.task.name, "prompt_types": {k: v.value for k, v in self.types.items()},
                "prompts": dict(prompts) if isinstance(prompts, dict) else None, "normalize": self.normalize,
                "library": f"mteb {metadata.version('mteb')}"}

    def encode(self, texts: Sequence[str], kind: Kind, lang: str) -> np.ndarray:
        from datasets import Dataset
        from torch.utils.data import DataLoader

        # the input MTEB's encoders take: a DataLoader over a datasets.Dataset with a "text" column
        loader = DataLoader(Dataset.from_dict({"text": list(texts)}), batch_size=max(1, len(texts)))
        out = self.model.encode(loader, task_metadata=self.task, hf_split="test", hf_subset=lang,
                                prompt_type=self.types[kind], batch_size=max(1, len(texts)), show_progress_bar=False)
        vectors = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float32)
        if self.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def create(name: str, **kwargs: Any) -> MtebEncoder:
    return MtebEncoder(name, **kwargs)
