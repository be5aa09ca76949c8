"""``mlbench fuse``: the kept rankings of two or more results of one task and slice fused with
ranx's fusion (``ranx.fuse``), scored into a result file of its own (e.g. BM25 + a dense model,
the standard hybrid baseline).

The inputs must be of the same task and slice (:attr:`mlbench.results.model.Result.slice`) and hold
the same queries per setting; each needs its rankings (``--keep-rankings`` on ``mlbench run``;
``mlbench evaluate`` keeps them). Each query's ranking goes to ranx in mlbench's rank order (score
desc, then doc id desc), so ranx's rank-based methods see trec_eval's order; the fused scores are
ranked again under the same tie rule and scored with the qrels kept beside the rankings. When
every input ranked whole pools the fused ranking does too and every metric is exact; otherwise it
is a cut run (``map`` becomes ``map@depth``, as in :mod:`mlbench.pipeline.evaluate`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any


from mlbench.options import parse_pairs
from mlbench.errors import MlbenchError
from mlbench.pipeline.evaluate import choose_metrics, score_run, write_scored
from mlbench.pipeline.output import RunOutput
from mlbench.results.build import RunFacts, derived_result
from mlbench.results.files import require_like, require_same_task
from mlbench.results.model import Result
from mlbench.results.values import add_rank_correlation
from mlbench.runs import Run
from mlbench.runs.ties import TIE_RULE

# mlbench's names of ranx's fusion methods that need no training (ranx's own names also accepted)
METHODS = {"rrf": "rrf", "combsum": "sum", "combmnz": "mnz", "combmax": "max", "combmin": "min", "combmed": "med",
           "combanz": "anz", "combgmnz": "gmnz", "isr": "isr", "log_isr": "log_isr", "logn_isr": "logn_isr",
           "bordafuse": "bordafuse", "condorcet": "condorcet", "wsum": "wsum", "wmnz": "wmnz",
           "w_bordafuse": "w_bordafuse", "w_condorcet": "w_condorcet", "rbc": "rbc"}
SEP = "\t"  # setting id and query row in the query ids of the runs given to ranx
NORMS = ("min-max", "max", "sum", "zmuv", "rank", "borda", "none")


def _check_inputs(results: Sequence[Result]) -> None:
    if len(results) < 2:
        raise MlbenchError("fuse needs two or more result files")
    first = results[0]
    purpose = "fuse needs results of the same task and slice"
    for r in results[1:]:
        require_same_task(first, r, purpose)
        require_like(r, first, role="first input", purpose=purpose)


def fuse_results(results: Sequence[Result], method: str = "rrf", norm: str = "min-max",
                 params: dict[str, Any] | None = None, name: str | None = None, out_dir: Path = Path("results"),
                 command: str | None = None) -> RunOutput:
    """Fuse the kept rankings of ``results`` (see the module docstring); write and return the result."""
    import ranx

    if method not in METHODS and method not in METHODS.values():
        raise MlbenchError(f"--method {method!r} is not one of {', '.join(METHODS)} (ranx's fusion methods that "
                           "need no training)")
    if norm not in NORMS:
        raise MlbenchError(f"--norm {norm!r} is not one of {', '.join(NORMS)}")
    ranx_method = METHODS.get(method, method)
    _check_inputs(results)
    t0 = time.perf_counter()
    kept = [r.rankings() for r in results]
    per_query = results[0].per_query()
    full = all(r.rankings_depth is None for r in results)
    settings = [s for s in results[0].settings if all(s.id in k for k in kept)]
    if not settings:
        raise MlbenchError(f"{results[1].where}: no setting in common with {results[0].where}")
    for s in settings:
        for r, k in zip(results[1:], kept[1:]):
            if k[s.id][0].query_ids != kept[0][s.id][0].query_ids:
                raise MlbenchError(f"{r.where}: setting {s.id} has other queries than {results[0].where}")
    # one ranx run per input over every setting (query ids prefixed with the setting): ranx compiles
    # its kernels once per process, and one call per input is far cheaper than one per setting;
    # each input's ranking of each query is built once; a query goes to ranx only where every input ranks it
    rankings = {(s.id, q): [dict(k[s.id][0].ranking(q)) for k in kept]
                for s in settings for q in range(len(kept[0][s.id][0].query_ids))}
    ranked = [key for key, per_input in rankings.items() if all(per_input)]
    runs = [ranx.Run.from_dict({f"{sid}{SEP}{q}": rankings[sid, q][i] for sid, q in ranked}, name=f"run{i}")
            for i in range(len(kept))]
    try:
        fused = ranx.fuse(runs=runs, norm=None if norm == "none" else norm, method=ranx_method,
                          params=dict(params or {})).to_dict()
    except (TypeError, ValueError, KeyError, AssertionError) as exc:
        raise MlbenchError(f"--method {method} with --param {params or {}}: ranx refused ({type(exc).__name__}: "
                           f"{exc})") from None
    per_setting = []
    for s in settings:
        base, qrels = kept[0][s.id]
        docs = [fused.get(f"{s.id}{SEP}{q}", {}) for q in range(len(base.query_ids))]
        run = Run.from_rankings(base.query_ids, [(list(d), [float(v) for v in d.values()]) for d in docs], full)
        per_setting.append((s, run, qrels, [str(g) for g in per_query[s.id].groups]))
    depth = max(int((run.ids != "").sum(axis=1).max(initial=0)) for _, run, _, _ in per_setting)
    # the first input's metrics as they were asked for: its own renames to its depth undone
    # (map@20 back to map, which is renamed to the fused depth again), a genuine map@10 kept
    undone = {v: k for k, v in results[0].run.metrics_at_depth().items()}
    task_metrics = [undone.get(m, m) for m in results[0].metrics if not m.startswith("trec:")]
    chosen, renamed, dropped = choose_metrics(None, task_metrics, depth, full)
    languages = results[0].task.languages
    out = [score_run(languages, s.setting, run, qrels, groups, s.n_left_out, chosen)
           for s, run, qrels, groups in per_setting]
    add_rank_correlation(out, chosen, {v.setting.query_lang: v.run.ids for v in out if v.setting.pool == "*"})
    t1 = time.perf_counter()
    inputs = [{"file": str(r.path), "sha256": hashlib.sha256(Path(r.path).read_bytes()).hexdigest(),
               "rankings_sha256": r.rankings_file.sha256, "model": r.model.name,
               "rankings_depth": r.rankings_file.depth} for r in results]
    label = name or f"{method}({'+'.join(r.model.name for r in results)})"

    def make(main: str, shown: int | str) -> Result:
        derived = {"method": method, "ranx_method": ranx_method, "norm": norm, "params": dict(params or {}),
                   "ranx": metadata.version("ranx"), "inputs": inputs, "depth": shown,
                   "full_ranking": full, "metrics_at_depth": renamed, "metrics_left_out": dropped}
        facts = RunFacts(command=command, model_spec=f"fuse:{method}", model_name=label,
                         description={"type": "fusion", "method": method, "norm": norm, "params": dict(params or {}),
                                      "inputs": [i["model"] for i in inputs]},
                         metadata={}, device="none", metrics=chosen, main_metric=main,
                         search={"backend": "fusion (ranx)", "depth": shown, "tie_rule": TIE_RULE},
                         timings={"fuse_score_s": t1 - t0}, kept_depth=shown)
        return derived_result(results[0], out, facts, derived)

    main = results[0].main_metric
    return write_scored(out_dir, out, chosen, renamed, undone.get(main, main), full, depth, make)


def parse_params(pairs: Sequence[str] | None, weights: str | None) -> dict[str, Any]:
    """``--param k=60`` (values read as JSON when they parse) and ``--weights 0.3,0.7``."""
    out = parse_pairs(list(pairs or []), "--param")
    if weights:
        try:
            out["weights"] = [float(x) for x in weights.split(",")]
        except ValueError:
            raise MlbenchError(f"--weights {weights!r} is not a comma list of numbers") from None
    return out


__all__ = ["METHODS", "NORMS", "fuse_results", "parse_params"]
