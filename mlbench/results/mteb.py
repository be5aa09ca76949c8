"""A result file as MTEB ``TaskResult`` JSON (``mlbench export --format mteb --out DIR``).

- **LAReQA tasks** (XQuAD-R, MLQA-R) become tasks of their own, one per kind, so that
  monolingual, cross-lingual and multilingual figures are never averaged together:
  ``mlbench-xquad-r-mono``, ``…-cross``, ``…-multi``, split ``test``, one score entry per setting
  with ``hf_subset`` ``de-de``, ``de-en`` or ``de-all`` (the pool of every language). They are
  never labelled as MTEB's ``XQuADRetrieval`` / ``MLQARetrieval``, which retrieve paragraphs and
  are not comparable. ``main_score`` is the result's main metric (full-ranking mAP; ``map_at_D``
  for a run cut at depth D); the rank distance and the own-language shares are extra keys.
- A task whose file names an MTEB task (``[mteb] task = "MIRACLRetrieval"``, recorded in the
  result's ``task.mteb``) becomes that task for its monolingual settings, one entry per language,
  when the result covers the task as published (its loader recorded
  ``comparable_with_official: true``); a result on a pool subset or an incomplete corpus is not
  comparable and becomes ``mlbench-{task}-{kind}`` like the others, with the reasons under
  ``not_comparable_because``. No other task is ever labelled as an MTEB task.

Metric keys follow MTEB's names (``ndcg_at_10``, ``recall_at_100``, ``map_at_20``, ``mrr_at_10``,
``precision_at_5``); full-ranking mAP is ``map``. mteb itself is not needed to write the files;
``mlbench[mteb]`` validates them with mteb's own model in the tests (docs/interop.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.files import write_json
from mlbench.metrics import metric
from mlbench.results.model import Result

# ISO 639-3 and script of the languages of XQuAD-R, MLQA-R and MIRACL, as MTEB writes them
LANGSCRIPTS = {
    "ar": "ara-Arab", "bn": "ben-Beng", "de": "deu-Latn", "el": "ell-Grek", "en": "eng-Latn", "es": "spa-Latn",
    "fa": "fas-Arab", "fi": "fin-Latn", "fr": "fra-Latn", "hi": "hin-Deva", "id": "ind-Latn", "ja": "jpn-Jpan",
    "ko": "kor-Hang", "ru": "rus-Cyrl", "sw": "swa-Latn", "te": "tel-Telu", "th": "tha-Thai", "tr": "tur-Latn",
    "vi": "vie-Latn", "yo": "yor-Latn", "zh": "zho-Hans",
}
REVISION = "main"  # an MTEB task's dataset revision is recorded from mteb when it is installed


def key_of(name: str) -> str:
    """An mlbench metric name as an MTEB score key: ``ndcg@10`` -> ``ndcg_at_10``."""
    m = metric(name)
    if m.base == "trec":
        return "trec_" + name[len("trec:"):]
    base = {"own_lang": "own_language_share", "own_lang_expected": "own_language_share_expected"}.get(m.base, m.base)
    return base if m.cutoff is None else f"{base}_at_{m.cutoff}"


def _langscript(lang: str, where: str) -> str:
    try:
        return LANGSCRIPTS[lang]
    except KeyError:
        raise MlbenchError(f"{where}: language {lang!r} has no ISO 639-3 code known to mlbench's MTEB export") from None


def _revision(task: str) -> str:
    try:
        import mteb

        return mteb.get_task(task).metadata.revision
    except Exception:  # noqa: BLE001 - mteb is optional; its absence or a renamed task is not an error here
        return REVISION


def task_results(result: Result) -> list[dict[str, Any]]:
    """The TaskResult documents of a result (one per task name)."""
    where, task, run = result.where, result.task, result.run
    main = result.main_metric
    mapped = (task.mteb or {}).get("task") if run.loader.get("comparable_with_official") is True else None
    split = ((task.subset or {}).get("split") or run.loader.get("split") or (task.mteb or {}).get("split")
             or "test")
    data_hash = hashlib.sha256(json.dumps(task.data, sort_keys=True).encode()).hexdigest()[:16]
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in result.settings:
        official_kind = mapped is not None and s.kind == "mono"
        name = mapped if official_kind else f"mlbench-{task.name}-{s.kind}"
        pool = "all" if s.pool == "*" else s.pool
        subset = s.query_lang if official_kind else f"{s.query_lang}-{pool}"
        pool_langs = task.languages if s.pool == "*" else [s.pool]
        langs = list(dict.fromkeys([_langscript(s.query_lang, where)] + [_langscript(p, where) for p in pool_langs]))
        entry: dict[str, Any] = {"hf_subset": subset, "languages": langs, "main_score": s.metrics.get(main)}
        # the setting's means hold the diagnostics too (rank distance, own-language shares)
        for m, v in s.metrics.items():
            entry[key_of(m)] = v
        entry.update({"main_metric": key_of(main), "n_queries": s.n_queries, "setting": s.id})
        groups.setdefault(name, []).append(entry)
    timings = run.timings_s or {}
    out = []
    for name, entries in groups.items():
        mine = name != mapped
        tr: dict[str, Any] = {
            "dataset_revision": f"mlbench:{task.name}@{task.version}:{data_hash}" if mine else _revision(name),
            "task_name": name, "mteb_version": None, "scores": {split: entries},
            # the run's steps (scores_s and ranks_s are parts of score_metrics_s)
            "evaluation_time": float(sum(v for k, v in timings.items()
                                         if isinstance(v, (int, float)) and k not in ("scores_s", "ranks_s"))) or None,
            "kg_co2_emissions": None, "date": result.created,
        }
        if mine:
            note = {"produced_by": f"mlbench {result.mlbench_version} from {Path(where).name}",
                    "model": result.model.name, "task": task.name}
            if task.mteb:
                note["not_comparable_because"] = run.loader.get("not_comparable_because") or [
                    f"not {task.mteb['task']} as published"]
            for e in entries:
                e["mlbench"] = note
        out.append(tr)
    return out


def export_mteb(result: Result, out_dir: Path | None) -> list[Path]:
    """Write ``{out_dir}/{task_name}.json`` per TaskResult (MTEB's results layout per model)."""
    if out_dir is None:
        raise MlbenchError("--format mteb writes one TaskResult file per task: give --out DIR")
    written = []
    for tr in task_results(result):
        path = Path(out_dir) / f"{tr['task_name']}.json"
        write_json(path, tr)
        written.append(path)
    return written
