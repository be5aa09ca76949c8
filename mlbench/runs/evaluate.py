"""``mlbench evaluate``: score a run made elsewhere (TREC run files, or a ranx ``Run`` / a dict in
Python) against a task's settings and relevance, into a result file like ``mlbench run`` writes.

Which setting a ranked query belongs to: a file named like ``mlbench run --trec-dir`` writes them,
``….{q}-{pool}.run`` (``pool`` ``all`` for the multilingual pool), holds that setting's queries
under their own ids; any other file (or dict) prefixes every query id with its setting,
``de>en:de/56beb4343aeaaa14008c925b``. A query id the task's slice does not have, a document that
is not in the setting's pool (pools held in memory), a document ranked twice, or a malformed line
is a one-line error naming the file and line.

Every evaluated query is ranked by score descending, then doc id descending (trec_eval's rule,
:mod:`mlbench.retrieval.ties`), whatever order or rank column the file has. A query the run does
not rank scores 0 (trec_eval ``-c``) and is counted. When every query's ranking covers its whole
pool the run is *full* and every metric is exact, ``map`` and the rank distance included; else the
run is cut at its depth (the longest ranking): ``map`` becomes ``map@depth`` (trec_eval's ``map``
on a cut run is ``map_cut.depth``), cut-off metrics beyond the depth are left out (refused when
asked for), and the result says so under ``run.external``. trec_eval measures mlbench does not
compute (``--trec-measures P.5,bpref``) are computed per query by pytrec_eval on the run as given
and kept as ``trec:P_5``, ``trec:bpref``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbench.data.loaders import LoadRequest, load
from mlbench.data.model import MemoryCandidates, TaskData
from mlbench.errors import MlbenchError
from mlbench.metrics import compute, parse_metrics, rank_distance, ranks_from_top
from mlbench.pipeline import RunOutput
from mlbench.results.document import RunFacts, build_document
from mlbench.results.files import write_result
from mlbench.retrieval.base import SettingResult
from mlbench.retrieval.ties import TIE_RULE, rank_order
from mlbench.retrieval.topk import kept, top_language_shares
from mlbench.runs.trec import QueryRun, RunFile, read_trec_run
from mlbench.task import ALL, Setting, enumerate_settings, parse_kinds, parse_setting

PREFIX_SEP = ":"
_FILE_SETTING = re.compile(r"(?:^|\.)([A-Za-z]{2,3})-([A-Za-z]{2,3}|all)$")


@dataclass
class Ranked:
    """One ranked query of the run, with where it came from (for errors)."""

    run: QueryRun
    origin: RunFile | None  # None: a dict given in Python


def _where(r: Ranked, i: int) -> str:
    return r.origin.where(r.run.lines[i]) if r.origin is not None else "run"


def file_setting(path: Path) -> Setting | None:
    """The setting a file is for, from its name (``xquad-r.de-en.run`` -> ``de>en``), else None."""
    m = _FILE_SETTING.search(Path(path).stem if Path(path).suffix else Path(path).name)
    if not m:
        return None
    return Setting(m.group(1), ALL if m.group(2) == "all" else m.group(2))


def _split_qid(qid: str, where: str) -> tuple[Setting, str]:
    sid, sep, rest = qid.partition(PREFIX_SEP)
    if not sep or ">" not in sid or not rest:
        raise MlbenchError(f"{where}: query id {qid!r} does not name its setting (SETTING:QUERY_ID, e.g. "
                           "de>en:de/56beb4343aeaaa14008c925b), and the file name does not end in .Q-POOL "
                           "(e.g. xquad-r.de-en.run)")
    return parse_setting(sid), rest


def collect_files(paths: Sequence[Path]) -> tuple[dict[Setting, dict[str, Ranked]], list[RunFile]]:
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
    out: dict[Setting, dict[str, Ranked]] = {}
    read = []
    for path in files:
        rf = read_trec_run(path)
        read.append(rf)
        fixed = file_setting(path)
        for qid, q in rf.queries.items():
            s, own = (fixed, qid) if fixed is not None else _split_qid(qid, rf.where(q.lines[0]))
            if own in out.setdefault(s, {}):
                raise MlbenchError(f"{rf.where(q.lines[0])}: query {own!r} of setting {s.id} is ranked in two files")
            out[s][own] = Ranked(q, rf)
    return out, read


def collect_mapping(run: Any) -> dict[Setting, dict[str, Ranked]]:
    """A ranx ``Run`` or a dict ``{"de>en:de/…": {doc: score}}`` (or ``{"de>en": {qid: {doc: score}}}``)."""
    if hasattr(run, "to_dict"):
        run = run.to_dict()
    if not isinstance(run, Mapping):
        raise MlbenchError(f"a run is TREC files, a ranx Run or a dict, not {type(run).__name__}")
    out: dict[Setting, dict[str, Ranked]] = {}
    for key, value in run.items():
        if ">" in key and PREFIX_SEP not in key:  # {setting: {qid: {doc: score}}}
            s = parse_setting(key)
            items = value.items()
        else:
            s, own = _split_qid(key, "run")
            items = [(own, value)]
        for qid, docs in items:
            q = QueryRun(list(map(str, docs)), [float(x) for x in docs.values()], [0] * len(docs))
            out.setdefault(s, {})[qid] = Ranked(q, None)
    return out


def in_rank_order(docs: Sequence[str], scores: Sequence[float]) -> tuple[list[str], list[float]]:
    """A query's documents and scores in rank order under the tie rule (score desc, doc id desc)."""
    idx = rank_order(docs, scores)
    return [docs[i] for i in idx], [scores[i] for i in idx]


def _pool_size(data: TaskData, s: Setting) -> int:
    return sum(len(data.langs[p].candidates) for p in s.pool_langs(data.languages))


def _check_against_data(data: TaskData, ranked: dict[Setting, dict[str, Ranked]], allowed: list[Setting]) -> None:
    """Every setting, query and (pools in memory) document of the run exists in the task's slice."""
    name = data.spec.name
    langs = ", ".join(data.languages)
    for s, queries in ranked.items():
        first = next(iter(queries.values()))
        if s not in allowed:
            raise MlbenchError(f"{_where(first, 0)}: setting {s.id} is not a setting of {name} on languages {langs} "
                               f"with kinds {', '.join(sorted({a.kind for a in allowed}))}")
        known = set(data.langs[s.query_lang].queries.ids)
        pool = None
        if all(isinstance(data.langs[p].candidates, MemoryCandidates) for p in s.pool_langs(data.languages)):
            pool = {data.id_in_pool(s, p, c) for p in s.pool_langs(data.languages)
                    for c in data.langs[p].candidates.ids}  # type: ignore[union-attr]
        cut = " of this slice" if data.subset else ""
        for qid, r in queries.items():
            if qid not in known:
                raise MlbenchError(f"{_where(r, 0)}: query id {qid!r} is not a query{cut} of {name} in language "
                                   f"{s.query_lang} (a run for another task or slice?)")
            if pool is not None:
                for i, d in enumerate(r.run.docs):
                    if d not in pool:
                        raise MlbenchError(f"{_where(r, i)}: document {d!r} is not a candidate of the pool of "
                                           f"setting {s.id} of {name}")


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


def _trec_measures(names: Sequence[str], s: Setting, qids: list[str], ordered: list[tuple[list[str], list[float]]],
                   relevant: list[set[str]]) -> dict[str, np.ndarray]:
    """trec_eval measures through pytrec_eval on the run as given, per query (0 for a query the run
    does not rank, as trec_eval -c)."""
    import pytrec_eval

    unknown = [n for n in names if n.split(".")[0] not in pytrec_eval.supported_measures]
    if unknown:
        raise MlbenchError(f"--trec-measures: {unknown[0]!r} is not a trec_eval measure pytrec_eval knows "
                           f"(e.g. P.5, bpref, map_cut.20, ndcg_cut.20, Rprec)")
    qrels = {q: {d: 1 for d in rel} for q, rel in zip(qids, relevant)}
    run = {q: {d: float(x) for d, x in zip(docs, scores)} for q, (docs, scores) in zip(qids, ordered) if docs}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(names))
    got = evaluator.evaluate(run) if run else {}
    # the measure's keys, also where the run ranks none of the setting's queries (then all 0)
    probe = got or evaluator.evaluate({qids[0]: {"\0": 0.0}}) if qids else got
    keys = sorted({k for v in probe.values() for k in v})
    return {f"trec:{k}": np.array([got.get(q, {}).get(k, 0.0) for q in qids], dtype=np.float64) for k in keys}


def score_rankings(s: Setting, qids: list[str], groups: list[str], n_left_out: int,
                   ordered: list[tuple[list[str], list[float]]], relevant: list[set[str]], metrics: list[str],
                   full: bool, languages: Sequence[str], trec_measures: Sequence[str] | None = None) -> SettingResult:
    """One setting's per-query values from each query's ranking (ids and scores in rank order)
    and relevant ids; the multilingual diagnostics from the top ids (the rank distance only when
    every ranking is full); the rankings kept for the rankings sidecar."""
    width = max([1, *(len(d) for d, _ in ordered)])
    top_ids = np.full((len(qids), width), "", dtype=object)
    top_scores = np.full((len(qids), width), np.nan)
    for k, (docs, scores) in enumerate(ordered):
        top_ids[k, : len(docs)] = docs
        top_scores[k, : len(docs)] = scores
    top_ids = top_ids.astype(str)
    ranks, n_rel = ranks_from_top(top_ids, relevant)
    per_query = {m: compute(m, ranks, n_rel) for m in metrics}
    res = SettingResult(s, list(qids), list(groups), n_left_out, per_query, top_ids=top_ids, top_scores=top_scores)
    if s.pool == ALL:
        if full:
            per_query["rank_distance"] = rank_distance(ranks, n_rel)
        shares, res.lang_share = top_language_shares(tuple(languages), top_ids, s, relevant)
        per_query.update(shares)
    if trec_measures:
        per_query.update(_trec_measures(trec_measures, s, list(qids), ordered, relevant))
    return res


def write_scored(out_dir: Path, results: list[SettingResult], relevant: Sequence[list[set[str]]], chosen: list[str],
                 renamed: dict[str, str], default_main: str, full: bool, depth: int,
                 make_doc: Callable[[str, int | str], dict[str, Any]]) -> RunOutput:
    """The tail evaluate and fuse share: the main metric (``default_main``, renamed to the depth on
    a cut run, else the first chosen metric), the document ``make_doc(main, depth)`` builds
    (``depth`` is ``"full"`` when every ranking is whole), and the result written with its per-query
    sidecar and its rankings sidecar (``relevant``: each result's relevant ids per query, its qrels)."""
    main = renamed.get(default_main, default_main)
    if main not in chosen:
        main = chosen[0]
    doc = make_doc(main, "full" if full else depth)
    qrels = {r.setting.id: {q: sorted(rel) for q, rel in zip(r.query_ids, rels)} for r, rels in zip(results, relevant)}
    path = write_result(out_dir, doc, results, (qrels, None if full else depth))
    return RunOutput(path, doc, results)


def evaluate_run(req: LoadRequest | str, run: Any, *, kinds: str | None = None, metrics: list[str] | None = None,
                 trec_measures: list[str] | None = None, name: str | None = None, out_dir: Path = Path("results"),
                 command: str | None = None, langs: list[str] | None = None, max_queries: int | None = None,
                 max_articles: int | None = None) -> RunOutput:
    """Score a run against a task slice and write the result (with its per-query and rankings
    sidecars). ``req``: a task name (with ``langs``, ``max_queries`` and, for LAReQA tasks,
    ``max_articles``) or a request built by :func:`mlbench.data.loaders.request`. ``run``: TREC run
    file paths (or folders of ``*.run``), a ranx ``Run``, or a dict (see the module docstring)."""
    if isinstance(req, str):
        from mlbench.data.lareqa import LareqaOptions
        from mlbench.data.loaders import request
        from mlbench.task import get_task

        req = request(get_task(req), langs, None, max_queries, LareqaOptions(max_articles=max_articles))
    t0 = time.perf_counter()
    files: list[RunFile] = []
    if isinstance(run, (str, Path)) or (isinstance(run, Sequence) and run and all(isinstance(p, (str, Path)) for p in run)):
        ranked, files = collect_files([run] if isinstance(run, (str, Path)) else list(run))
    else:
        ranked = collect_mapping(run)
    if not ranked:
        raise MlbenchError("the run ranks no query")
    t1 = time.perf_counter()
    data = load(req)
    allowed = enumerate_settings(data.languages, parse_kinds(kinds, data.kinds))
    _check_against_data(data, ranked, allowed)
    settings = [s for s in allowed if s in ranked]
    t2 = time.perf_counter()

    per_setting = []
    depth, full, missing = 0, True, {}
    for s in settings:
        qd = data.langs[s.query_lang].queries
        keep, relevant = kept(data, s, np.arange(len(qd.groups)))
        rows = keep.tolist()  # the queries with a relevant candidate in the setting's pool
        ordered = []
        for i in rows:
            r = ranked[s].get(qd.ids[i])
            ordered.append(in_rank_order(r.run.docs, r.run.scores) if r is not None else ([], []))
        missing[s.id] = sum(1 for i in rows if qd.ids[i] not in ranked[s])
        size = _pool_size(data, s)
        depth = max([depth, *(len(d) for d, _ in ordered)])
        full = full and all(len(d) == size for d, _ in ordered)
        per_setting.append((s, rows, relevant, ordered))
    chosen, renamed, dropped = choose_metrics(metrics, data.spec.metrics, depth, full)

    results = []
    for s, rows, relevant, ordered in per_setting:
        qd = data.langs[s.query_lang].queries
        results.append(score_rankings(s, [qd.ids[i] for i in rows], [qd.groups[i] for i in rows], len(qd) - len(rows),
                                      ordered, relevant, chosen, full, data.languages, trec_measures))
    all_metrics = chosen + sorted({m for r in results for m in r.per_query if m.startswith("trec:")})
    t3 = time.perf_counter()

    tag = next((f.tag for f in files if f.tag), None)
    model_name = name or tag or (files[0].path.stem if files else "external run")
    listed = [{"file": str(f.path), "sha256": f.sha256, "lines": f.lines} for f in files]

    def make_doc(main: str, shown: int | str) -> dict[str, Any]:
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
        facts = RunFacts(command=command, model_spec="run:" + ",".join(f.path.name for f in files) if files else "run",
                         model_name=model_name,
                         description={"type": "external run", "tag": tag, "files": listed},
                         metadata={}, device="none", metrics=all_metrics, main_metric=main,
                         search={"backend": "external run", "depth": shown, "tie_rule": TIE_RULE},
                         timings={"read_run_s": t1 - t0, "load_data_s": t2 - t1, "score_metrics_s": t3 - t2})
        doc = build_document(data, results, facts)
        doc["run"]["external"] = external
        return doc

    return write_scored(out_dir, results, [relevant for _, _, relevant, _ in per_setting], chosen, renamed,
                        data.spec.main_metric, full, depth, make_doc)
