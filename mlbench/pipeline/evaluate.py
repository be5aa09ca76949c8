"""``mlbench evaluate``: score a run made elsewhere (TREC run files, or a ranx ``Run`` / a dict in
Python) against a task's settings and judgements, into a result file like ``mlbench run`` writes.

Which setting a ranked query belongs to: a file named like ``mlbench run --trec-dir`` writes them,
``….{q}-{pool}.run`` (``pool`` ``all`` for the multilingual pool; read back against the task's
languages, :func:`mlbench.runs.trec.file_setting`), holds that setting's queries under their own
ids; any other file (or dict) prefixes every query id with its setting,
``de>en:de/56beb4343aeaaa14008c925b``. A query id the task's slice does not have, a document that
is not in the setting's pool (pools held in memory), a document ranked twice, or a malformed line
is a one-line error naming the file and line.

Every evaluated query is ranked by score descending, then doc id descending (trec_eval's rule,
:mod:`mlbench.runs.ties`), whatever order or rank column the file has: the run becomes a
:class:`~mlbench.runs.Run` per setting, scored against the task's :class:`~mlbench.runs.Qrels` by
the one scorer. A query the run does not rank scores 0 (trec_eval ``-c``) and is counted. When
every query's ranking covers its whole pool the run is *full* and every metric is exact, ``map``
and the rank distance included; else the run is cut at its depth (the longest ranking): ``map``
becomes ``map@depth`` (trec_eval's ``map`` on a cut run is ``map_cut.depth``), cut-off metrics
beyond the depth are left out (refused when asked for), and the result says so under
``run.external``. trec_eval measures mlbench does not compute (``--trec-measures P.5,bpref``) are
computed per query by pytrec_eval on the run as given and kept as ``trec:P_5``, ``trec:bpref``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.data.loader import LoadRequest
from mlbench.data.loaders import load, slice_of
from mlbench.data.model import MemoryCandidates, TaskData
from mlbench.errors import MlbenchError
from mlbench.metrics import BIAS_CUTOFFS, parse_metrics
from mlbench.metrics.measures import measure_parameters
from mlbench.pipeline.output import RunOutput
from mlbench.results.build import RunFacts, build_result
from mlbench.results.model import Result
from mlbench.results.values import SettingValues, add_rank_correlation, scored
from mlbench.runs import JudgedRanks, Qrels, Run
from mlbench.runs.run import FULL
from mlbench.runs.ties import TIE_RULE
from mlbench.runs.trec import RunFile, file_setting, read_trec_run
from mlbench.task import ALL, Setting, enumerate_settings, parse_kinds, parse_setting

PREFIX_SEP = ":"


@dataclass
class Given:
    """The rankings a run gives, per setting: query id -> (docs, scores) in rank order, and the
    file each came from (None: a dict given in Python), for errors."""

    rankings: dict[Setting, dict[str, tuple[list[str], list[float]]]]
    files: list[RunFile]
    origin: dict[tuple[Setting, str], tuple[RunFile, str]]  # (setting, own query id) -> (file, query id in it)

    def where(self, s: Setting, qid: str, doc: str | None = None) -> str:
        found = self.origin.get((s, qid))
        return found[0].where(found[1], doc) if found else "run"


def _split_qid(qid: str, where: str) -> tuple[Setting, str]:
    sid, sep, rest = qid.partition(PREFIX_SEP)
    if not sep or ">" not in sid or not rest:
        raise MlbenchError(f"{where}: query id {qid!r} does not name its setting (SETTING:QUERY_ID, e.g. "
                           "de>en:de/56beb4343aeaaa14008c925b), and the file name does not end in .Q-POOL "
                           "(e.g. xquad-r.de-en.run)")
    return parse_setting(sid), rest


def collect_files(paths: Sequence[Path], query_langs: Sequence[str], pool_langs: Sequence[str]) -> Given:
    """The ranked queries of TREC run files (a folder stands for its ``*.run`` files), per setting."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.run"))
            if not found:
                raise MlbenchError(f"{p}: no *.run file in this folder")
            files += found
        else:
            files.append(p)
    given = Given({}, [], {})
    for path in files:
        rf = read_trec_run(path)
        given.files.append(rf)
        named = file_setting(path, query_langs, pool_langs)
        for row, qid in enumerate(rf.run.query_ids):
            s, own = (Setting(*named), qid) if named is not None else _split_qid(qid, rf.where(qid))
            if own in given.rankings.setdefault(s, {}):
                raise MlbenchError(f"{rf.where(qid)}: query {own!r} of setting {s.id} is ranked in two files")
            ranking = rf.run.ranking(row)
            given.rankings[s][own] = ([d for d, _ in ranking], [x for _, x in ranking])
            given.origin[(s, own)] = (rf, qid)
    return given


def collect_mapping(run: Any) -> Given:
    """A ranx ``Run`` or a dict ``{"de>en:de/…": {doc: score}}`` (or ``{"de>en": {qid: {doc: score}}}``)."""
    if hasattr(run, "to_dict"):
        run = run.to_dict()
    if not isinstance(run, Mapping):
        raise MlbenchError(f"a run is TREC files, a ranx Run or a dict, not {type(run).__name__}")
    given = Given({}, [], {})
    for key, value in run.items():
        if ">" in key and PREFIX_SEP not in key:  # {setting: {qid: {doc: score}}}
            s = parse_setting(key)
            items = list(value.items())
        else:
            s, own = _split_qid(key, "run")
            items = [(own, value)]
        for qid, docs in items:
            ordered = Run.from_mapping({qid: {str(d): float(x) for d, x in docs.items()}}).ranking(0)
            given.rankings.setdefault(s, {})[qid] = ([d for d, _ in ordered], [x for _, x in ordered])
    return given


def _pool_size(data: TaskData, s: Setting) -> int:
    return sum(len(data.langs[p].candidates) for p in s.pool_langs(data.pool_langs))


def _check_against_data(data: TaskData, given: Given, allowed: list[Setting]) -> None:
    """Every setting, query and (pools in memory) document of the run exists in the task's slice."""
    name = data.spec.name
    langs = ", ".join(data.languages)
    for s, queries in given.rankings.items():
        if s not in allowed:
            raise MlbenchError(f"{given.where(s, next(iter(queries)))}: setting {s.id} is not a setting of {name} on "
                               f"languages {langs} with kinds {', '.join(sorted({a.kind for a in allowed}))}")
        known = set(data.langs[s.query_lang].queries.ids)
        pool = None
        if all(isinstance(data.langs[p].candidates, MemoryCandidates) for p in s.pool_langs(data.pool_langs)):
            pool = {data.id_in_pool(s, p, c) for p in s.pool_langs(data.pool_langs)
                    for c in data.langs[p].candidates.ids}  # type: ignore[union-attr]
        cut = " of this slice" if data.subset else ""
        for qid, (docs, _) in queries.items():
            if qid not in known:
                raise MlbenchError(f"{given.where(s, qid)}: query id {qid!r} is not a query{cut} of {name} in language "
                                   f"{s.query_lang} (a run for another task or slice?)")
            if pool is not None:
                for d in docs:
                    if d not in pool:
                        raise MlbenchError(f"{given.where(s, qid, d)}: document {d!r} is not a candidate of the pool "
                                           f"of setting {s.id} of {name}")


def choose_metrics(asked: list[str] | None, task_metrics: Sequence[str], depth: int, full: bool
                   ) -> tuple[list[str], dict[str, str], list[str]]:
    """The metrics of the result, what was renamed to its depth (map -> map@depth) and what was
    left out (a cut-off beyond the depth); an asked-for metric the depth cannot give is refused."""
    chosen = parse_metrics(asked) if asked else parse_metrics(list(task_metrics))
    out, renamed, dropped = [], {}, []
    for m in chosen:
        if full or m.fits_depth(depth):
            out.append(m.name)
        elif m.name == "map":
            renamed["map"] = f"map@{depth}"
            out.append(renamed["map"])
        elif asked:
            raise MlbenchError(f"metric {m.name!r} needs {'the full ranking' if m.needs_full_ranking else f'the top {m.cutoff}'}; "
                               f"the run ranks at most {depth} candidates per query")
        else:
            dropped.append(m.name)
    if not out:
        raise MlbenchError(f"no metric of the task can be computed at the run's depth {depth} "
                           f"(left out: {', '.join(dropped)}); ask for one with --metrics")
    return list(dict.fromkeys(out)), renamed, dropped


def _trec_measures(names: Sequence[str], run: Run, qrels: Qrels) -> dict[str, np.ndarray]:
    """trec_eval measures through pytrec_eval on the run as given, per query (0 for a query the run
    does not rank, as trec_eval -c)."""
    import pytrec_eval

    unknown = [n for n in names if n.split(".")[0] not in pytrec_eval.supported_measures]
    if unknown:
        raise MlbenchError(f"--trec-measures: {unknown[0]!r} is not a trec_eval measure pytrec_eval knows "
                           f"(e.g. P.5, bpref, map_cut.20, ndcg_cut.20, Rprec)")
    qids = run.query_ids
    mapping = {q: v for q, v in run.to_mapping().items() if v}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels.to_dict(), set(names), relevance_level=qrels.level)
    got = evaluator.evaluate(mapping) if mapping else {}
    # the measure's keys, also where the run ranks none of the setting's queries (then all 0)
    probe = got or evaluator.evaluate({qids[0]: {"\0": 0.0}}) if qids else got
    keys = sorted({k for v in probe.values() for k in v})
    return {f"trec:{k}": np.array([got.get(q, {}).get(k, 0.0) for q in qids], dtype=np.float64) for k in keys}


def score_run(data_langs: Sequence[str], s: Setting, run: Run, qrels: Qrels, groups: list[str], n_left_out: int,
              metrics: list[str], trec_measures: Sequence[str] | None = None, pool_size: int | None = None
              ) -> SettingValues:
    """One setting's values from a run and its qrels (the rank distance only when the run is full),
    the run and qrels kept for the rankings sidecar; ``data_langs``: the pool's languages."""
    langs = s.pool_langs(tuple(data_langs)) if s.pool == ALL else ()
    judged = JudgedRanks.from_run(run, qrels, s.query_lang, langs, BIAS_CUTOFFS)
    out = scored(s, run.query_ids, groups, n_left_out, judged, metrics, qrels.level, run, qrels, pool_size=pool_size)
    if trec_measures:
        out.per_query.update(_trec_measures(trec_measures, run, qrels))
    return out


def write_scored(out_dir: Path, values: list[SettingValues], chosen: list[str], renamed: dict[str, str],
                 default_main: str, full: bool, depth: int, make: Callable[[str, int | str], Result]) -> RunOutput:
    """The tail evaluate and fuse share: the main metric (``default_main``, renamed to the depth on
    a cut run, else the first chosen metric), the result ``make(main, depth)`` builds (``depth`` is
    ``"full"`` when every ranking is whole), written with its per-query and rankings sidecars."""
    main = renamed.get(default_main, default_main)
    if main not in chosen:
        main = chosen[0]
    result = make(main, FULL if full else depth)
    path = result.to_disk(out_dir)
    return RunOutput(path, result, values)


def evaluate_run(req: LoadRequest | str, run: Any, *, kinds: str | None = None, metrics: list[str] | None = None,
                 trec_measures: list[str] | None = None, name: str | None = None, out_dir: Path = Path("results"),
                 command: str | None = None, langs: list[str] | None = None, max_queries: int | None = None,
                 **loader_options: Any) -> RunOutput:
    """Score a run against a task slice and write the result (with its per-query and rankings
    sidecars). ``req``: a task name (with ``langs``, ``max_queries`` and the task's loader options
    by name, e.g. ``max_articles=2`` for LAReQA) or a request built by
    :func:`mlbench.data.loaders.request`. ``run``: TREC run file paths (or folders of ``*.run``), a
    ranx ``Run``, or a dict (see the module docstring)."""
    from mlbench.data.loaders import get_loader, options_from, request
    from mlbench.data.tasks import get_task

    if isinstance(req, str):
        spec = get_task(req)
        req = request(spec, langs, None, max_queries, options_from(spec, **loader_options))
    elif loader_options:
        raise MlbenchError(f"{sorted(loader_options)[0]}: give loader options in the request, not beside it")
    loader = get_loader(req.spec.format)
    t0 = time.perf_counter()
    if isinstance(run, (str, Path)) or (isinstance(run, Sequence) and run and all(isinstance(p, (str, Path)) for p in run)):
        given = collect_files([run] if isinstance(run, (str, Path)) else list(run),
                              loader.query_languages(req.spec, req.langs), req.langs)
    else:
        given = collect_mapping(run)
    if not given.rankings:
        raise MlbenchError("the run ranks no query")
    t1 = time.perf_counter()
    data = load(req)
    kinds_asked = parse_kinds(kinds, data.kinds)
    allowed = enumerate_settings(data.query_langs, kinds_asked, data.pool_langs)
    _check_against_data(data, given, allowed)
    settings = [s for s in allowed if s in given.rankings]
    t2 = time.perf_counter()

    per_setting = []
    depth, full, missing = 0, True, {}
    for s in settings:
        qd = data.langs[s.query_lang].queries
        rows = [i for i, g in enumerate(qd.groups) if data.has_relevant(s, g)]
        qids = [qd.ids[i] for i in rows]
        ranked = given.rankings[s]
        run_s = Run.from_rankings(qids, [ranked.get(q, ([], [])) for q in qids])
        missing[s.id] = sum(1 for q in qids if q not in ranked)
        size = _pool_size(data, s)
        lengths = (run_s.ids != "").sum(axis=1)
        depth = max([depth, *lengths.tolist()])
        full = full and bool(np.all(lengths == size))
        per_setting.append((s, run_s, data.qrels(s, qids, [qd.groups[i] for i in rows]), [qd.groups[i] for i in rows],
                            len(qd) - len(rows)))
    chosen, renamed, dropped = choose_metrics(metrics, data.spec.metrics, depth, full)
    values = []
    for s, run_s, qrels, groups, left in per_setting:
        run_s.full = full
        values.append(score_run(data.pool_langs, s, run_s, qrels, groups, left, chosen, trec_measures,
                                _pool_size(data, s)))
    add_rank_correlation(values, chosen, {v.setting.query_lang: v.run.ids for v in values if v.setting.pool == ALL})
    all_metrics = chosen + sorted({m for v in values for m in v.per_query if m.startswith("trec:")})
    t3 = time.perf_counter()

    tag = next((f.tag for f in given.files if f.tag), None)
    model_name = name or tag or (given.files[0].path.stem if given.files else "external run")
    listed = [{"file": str(f.path), "sha256": f.sha256, "lines": f.lines} for f in given.files]

    def make(main: str, shown: int | str) -> Result:
        external: dict[str, Any] = {
            "files": listed, "depth": shown, "full_ranking": full,
            "metrics_at_depth": renamed, "metrics_left_out": dropped, "queries_not_in_run": missing,
            "note": ("every query ranks its whole pool: every metric is exact" if full else
                     f"the run ranks at most {depth} candidates per query: metrics are those of the run cut at "
                     f"{depth} (map is map@{depth}, trec_eval's map on this run)")}
        if trec_measures:
            from importlib import metadata

            external["pytrec_eval"] = {"version": metadata.version("pytrec-eval-terrier"),
                                       "measures": list(trec_measures)}
        facts = RunFacts(command=command, model_spec="run:" + ",".join(f.path.name for f in given.files)
                         if given.files else "run", model_name=model_name,
                         description={"type": "external run", "tag": tag, "files": listed},
                         metadata={}, device="none", metrics=all_metrics, main_metric=main,
                         search={"backend": "external run", "depth": shown, "tie_rule": TIE_RULE},
                         measures=measure_parameters(chosen),
                         timings={"read_run_s": t1 - t0, "load_data_s": t2 - t1, "score_metrics_s": t3 - t2},
                         kept_depth=shown)
        result = build_result(data, values, facts, slice_of(req, tuple(sorted({v.setting.kind for v in values}))))
        result.run.external = external
        return result

    return write_scored(out_dir, values, chosen, renamed, data.spec.main_metric, full, depth, make)
