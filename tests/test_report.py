"""Plots and the static HTML report on real result files: BM25 and USE v3 on a 3-language XQuAD-R
slice, BM25 on all 11 XQuAD-R and all 7 MLQA-R languages (small slices), and a mono-only run.
The report is rendered by headless Chromium (skipped only where no ``chromium`` is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import mlqa_dir, run_cli
from PIL import Image

from mlbench.analysis.compare import compare
from mlbench.data.lareqa import LareqaOptions
from mlbench.errors import MlbenchError
from mlbench.pipeline import RunConfig, run
from mlbench.render.comparison import cells as _cells
from mlbench.render.formats import num as fmt_num
from mlbench.render.html import Markup, html_page, html_table
from mlbench.render.plots import all_plots, heatmap, own_language, rank_distance, rank_distance_top, write_plots
from mlbench.render.figures import PNG_DPI, save
from mlbench.render.report import build_report
from mlbench.results import read_result

LANGS3 = ["de", "en", "zh"]


def _run(root: Path, name: str, spec: str, max_articles: int = 4, **cfg) -> Path:
    kw = {"tasks": ["xquad-r"], "langs": LANGS3, **cfg}
    (out,) = run(RunConfig(model=spec, out_dir=root / name, cache_dir=root / "cache",
                           lareqa=LareqaOptions(max_articles=max_articles), **kw))
    return out.path


def check_result(result, metric=None):
    """What a report needs of a result: the fields are checked when it is read, the metric here."""
    result.require_metric(metric or result.main_metric)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    paths = SimpleNamespace(
        bm25=_run(root, "bm25", "bm25"),
        usem3=_run(root, "usem3", "use-m3"),
        xq11=_run(root, "xq11", "bm25", langs=None, max_articles=2,
                  command="mlbench run -m bm25 --max-articles 2"),  # what the CLI records
        mono=_run(root, "mono", "bm25", kinds="mono"),
    )
    paths.other_task = root / "other" / paths.bm25.name
    paths.other_task.parent.mkdir()
    doc = json.loads(paths.bm25.read_text())
    doc["task"]["name"] = "mlqa-r"
    paths.other_task.write_text(json.dumps(doc))
    shutil.copyfile(paths.bm25.parent / doc["per_query"]["file"], paths.other_task.parent / doc["per_query"]["file"])
    return SimpleNamespace(root=root, paths=paths, **{k: read_result(v) for k, v in vars(paths).items()})


@pytest.fixture(scope="module")
def mlqa7(env):
    """BM25 on all 7 MLQA-R languages (3 articles): settings without queries (no question of q has
    its answer in p's pool) exist only in MLQA-R."""
    return read_result(_run(env.root, "mlqa7", "bm25", tasks=["mlqa-r"], langs=None, max_articles=3,
                            data_dir=mlqa_dir()))


def _texts(fig) -> list[str]:
    """Every text of a figure: titles, axis labels, tick labels, annotations, legends."""
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def _axes_with_image(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


# --- plots -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, n_langs", [("xq11", 11), pytest.param("mlqa7", 7, marks=pytest.mark.mlqa), ("bm25", 3)])
def test_heatmap_cells_are_the_setting_means(env, name, n_langs, request):
    result = request.getfixturevalue("mlqa7") if name == "mlqa7" else getattr(env, name)
    langs = result.task.languages
    assert len(langs) == n_langs
    fig = heatmap(result, "map")
    main, star = _axes_with_image(fig)
    assert [t.get_text() for t in main.get_xticklabels()] == langs
    assert [t.get_text() for t in main.get_yticklabels()] == langs
    assert main.get_xlabel() == "pool language" and main.get_ylabel() == "query language"
    assert [t.get_text() for t in star.get_xticklabels()] == ["*"]
    grid, multi = np.asarray(main.images[0].get_array()), np.asarray(star.images[0].get_array())
    # a setting without queries (MLQA-R slice: no question of q has its answer in p's pool) has no mean
    means = {s.id: np.nan if s.metrics["map"] is None else s.metrics["map"] for s in result.settings}
    assert len(means) == n_langs * (n_langs + 1)
    for i, q in enumerate(langs):
        assert multi[i, 0] == means[f"{q}>*"]
        for j, p in enumerate(langs):
            np.testing.assert_equal(grid[i, j], means[f"{q}>{p}"])
    # the annotation of each cell is its value with 3 decimals (a dash without value), in the cell's place
    fmt = lambda v: "–" if np.isnan(v) else f"{v:.3f}"  # noqa: E731
    notes = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in main.texts}
    assert len(notes) == n_langs * n_langs
    for i, q in enumerate(langs):
        for j, p in enumerate(langs):
            assert notes[(i, j)] == fmt(means[f"{q}>{p}"])
    assert sorted(t.get_text() for t in star.texts) == sorted(fmt(means[f"{q}>*"]) for q in langs)
    colorbar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbar) == 1 and colorbar[0].get_ylabel() == "mAP (0–1)"
    title = fig.get_suptitle()
    assert result.task.name in title and result.model.name in title


def test_heatmap_of_another_metric(env):
    result = env.bm25
    fig = heatmap(result, "recall@10")
    main, _ = _axes_with_image(fig)
    de_en = result.setting("de>en").metrics["recall@10"]
    assert np.asarray(main.images[0].get_array())[0, 1] == de_en
    assert [ax for ax in fig.axes if ax.get_label() == "<colorbar>"][0].get_ylabel() == "Recall@10 (0–1)"


def test_png_and_svg_are_written_reproducibly_with_labels(env, tmp_path):
    result = env.bm25
    png, svg = save(heatmap(result), tmp_path / "a" / "heatmap")
    png2, svg2 = save(heatmap(result), tmp_path / "b" / "heatmap")
    assert png.read_bytes() == png2.read_bytes() and svg.read_bytes() == svg2.read_bytes()
    fig = heatmap(result)
    with Image.open(png) as im:
        assert im.format == "PNG"
        assert im.size == (int(fig.get_figwidth() * PNG_DPI), int(fig.get_figheight() * PNG_DPI))
        assert not {k.lower() for k in im.info} & {"software", "creation time", "date"}
        pixels = np.asarray(im.convert("RGB"), dtype=float)
    assert pixels.std() > 40  # a picture, not a blank canvas
    root = ET.fromstring(svg.read_bytes())
    texts = {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"query language", "pool language", "mAP (0–1)", "*"} <= texts
    en_en = result.setting("en>en").metrics["map"]
    assert f"{en_en:.3f}" in texts
    assert b"<dc:date>" not in svg.read_bytes()


def test_rank_distance_bars_are_the_aggregates(env):
    result = env.xq11
    rd = result.aggregates.rank_distance
    fig = rank_distance(result)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == result.task.languages
    heights = [p.get_height() for p in ax.patches]
    assert heights == [rd["query_langs"][q] for q in result.task.languages]
    (line,) = ax.get_lines()
    assert set(line.get_ydata()) == {rd["macro"]}
    texts = " ".join(_texts(fig))
    macro = f"{rd['macro']:.1f}" if rd["macro"] < 1000 else f"{rd['macro']:,.0f}"
    assert "lower = less language bias" in texts and f"macro mean {macro}" in texts
    assert ax.get_xlabel() == "query language" and "rank distance" in ax.get_ylabel()


def test_two_results_share_one_rank_distance_scale(env):
    """Side by side (the report's --against), A's and B's bars are drawn on one y scale, the one
    that holds the taller of the two; alone, each result gets its own."""
    a, b = env.usem3, env.bm25
    alone = [rank_distance(d).axes[0].get_ylim()[1] for d in (a, b)]
    assert alone[0] != alone[1]
    top = rank_distance_top([a, b])
    assert top == max(alone)
    assert [rank_distance(d, top).axes[0].get_ylim() for d in (a, b)] == [(0.0, top)] * 2


def test_own_language_matrix_is_the_language_bias(env):
    result = env.bm25
    bias = result.aggregates.language_bias
    fig = own_language(result)
    main, exp = _axes_with_image(fig)
    values = np.asarray(main.images[0].get_array())
    for i, q in enumerate(LANGS3):
        assert values[i].sum() == pytest.approx(1.0)
        for j, p in enumerate(LANGS3):
            assert values[i, j] == bias["top10"]["matrix"][q][p]
    assert np.asarray(exp.images[0].get_array())[:, 0].tolist() == [bias["expected_own_share"]["query_langs"][q] for q in LANGS3]
    assert main.get_ylabel() == "query language" and "top-10" in main.get_xlabel()
    assert "expected\nown share" == exp.get_xlabel()
    # BM25 keeps to the query's language: the diagonal is far above the expected third
    assert min(values[i, i] for i in range(3)) > 0.8 > 0.34 > bias["expected_own_share"]["macro"]


def test_mono_only_run_degrades_with_reasons(env, tmp_path):
    result = env.mono
    plots = {p.name: p for p in all_plots(result)}
    assert plots["rankdist"].figure is None and "multilingual" in plots["rankdist"].reason
    assert plots["ownlang"].figure is None and "multilingual" in plots["ownlang"].reason
    (main,) = _axes_with_image(plots["heatmap"].figure)  # no multilingual column
    grid = np.ma.getdata(main.images[0].get_array()).astype(float)
    mask = np.ma.getmaskarray(main.images[0].get_array())
    assert mask.tolist() == (~np.eye(3, dtype=bool)).tolist()
    assert np.diag(grid).tolist() == [result.aggregates.query_langs["mono"][q]["map"] for q in LANGS3]
    r = run_cli("plot", str(env.paths.mono), "-o", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    assert "rankdist: left out — the run has no multilingual settings" in r.stdout
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["xquad-r--bm25.heatmap.png", "xquad-r--bm25.heatmap.svg"]


def test_write_plots_writes_png_and_svg(env, tmp_path):
    written = write_plots(env.bm25, tmp_path / "p")
    assert [(p.name, p.reason) for p, _ in written][:3] == [("heatmap", None), ("rankdist", None), ("ownlang", None)]
    # a run without MRC: the rank-correlation heatmap is left out, with the reason and nothing written
    assert written[3][0].name == "rankcorr" and written[3][1] is None
    assert written[3][0].reason.startswith("the run has no mean rank correlation")
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == sorted(f"{n}.{x}" for n in ("heatmap", "ownlang", "rankdist") for x in ("png", "svg"))
    for n in ("heatmap", "ownlang", "rankdist"):
        with Image.open(tmp_path / "p" / f"{n}.png") as im:
            im.load()
        ET.fromstring((tmp_path / "p" / f"{n}.svg").read_bytes())


# --- HTML ----------------------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Tables by id (header texts, rows of cell texts) and every attribute that would load something."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.loads: list[tuple[str, str, str]] = []
        self._stack: list[dict] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "srcset", "data", "action", "poster"):
            if key in a:
                self.loads.append((tag, key, a[key]))
        if tag == "table":
            self._stack.append({"head": [], "rows": []})
            if "id" in a:
                self.tables[a["id"]] = self._stack[-1]
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._stack and not self._in_head:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            t = self._stack[-1]
            (t["head"] if self._in_head else t["rows"][-1]).append("".join(self._cell).strip())
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Tables:
    p = _Tables()
    p.feed(page)
    return p


def _assert_offline(page: str, parsed: _Tables) -> None:
    assert parsed.loads and all(v.startswith("data:image/png;base64,") for _, _, v in parsed.loads), parsed.loads[:3]
    assert not re.search(r"url\s*\(|@import|<script|<link|<iframe", page, re.IGNORECASE)
    assert "default-src 'none'" in page  # the CSP: nothing may be fetched
    # URLs appear only as escaped text (the task's data source), never in an attribute
    assert not re.search(r"""=\s*["']?\s*(https?:)?//""", page)


def test_report_single_result(env):
    res = env.xq11
    page = build_report(res)
    parsed = _parse(page)
    _assert_offline(page, parsed)
    assert len(parsed.loads) == 3  # heatmap, rank distance, own-language share
    s = parsed.tables["summary"]
    assert s["head"] == ["query language", "mono mAP", "cross mAP", "multi mAP", "rank distance ↓",
                         "own-language share@10", "expected own share"]
    agg = res.aggregates
    own = agg.language_bias["top10"]["own_share"]
    exp = agg.language_bias["expected_own_share"]
    for row, lang in zip(s["rows"], res.task.languages):
        assert row == [lang] + [f"{agg.query_langs[k][lang]['map']:.4f}" for k in ("mono", "cross", "multi")] + [
            f"{agg.rank_distance['query_langs'][lang]:.1f}", f"{own['query_langs'][lang]:.4f}",
            f"{exp['query_langs'][lang]:.4f}"]
    assert s["rows"][-1] == ["macro"] + [f"{agg.kinds[k]['map']:.4f}" for k in ("mono", "cross", "multi")] + [
        f"{agg.rank_distance['macro']:.1f}", f"{own['macro']:.4f}", f"{exp['macro']:.4f}"]
    assert len(s["rows"]) == 12
    settings = parsed.tables["settings-r"]
    assert len(settings["rows"]) == 132
    first = res.settings[0]
    assert settings["rows"][0][:5] == [first.id, first.kind, str(first.n_queries), str(first.n_left_out),
                                       f"{first.metrics['map']:.4f}"]
    # provenance: command, data checksums, package versions, sidecar hash
    for text in (res.run.command or "", res.task.data["th"]["sha256"], res.per_query_file.sha256,
                 res.environment["packages"]["numpy"], "xquad-r 1.0"):
        assert text and text in page


def test_html_helpers_escape_everything():
    t = html_table(["<b>model</b>", "map"], [["a&b <script>", 0.5], [Markup("<em>x</em>"), None]],
                   caption="x < y", row_classes=[None, "total"])
    assert "&lt;b&gt;model&lt;/b&gt;" in t and "a&amp;b &lt;script&gt;" in t and "<script>" not in t
    assert "<td class=\"num\">0.5000</td>" in t and "<td class=\"num\">–</td>" in t and "<em>x</em>" in t
    assert '<tr class="total">' in t and "<caption>x &lt; y</caption>" in t
    page = html_page('a "title" <x>', t)
    assert "<title>a &quot;title&quot; &lt;x&gt;</title>" in page and page.startswith("<!DOCTYPE html>")
    assert fmt_num(float("nan")) == "–" and fmt_num(1 / 3, 2) == "0.33"


@pytest.fixture(scope="module")
def against_page(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("against") / "report.html"
    r = run_cli("report", str(env.paths.bm25), "--against", str(env.paths.usem3), "--permutations", "2000",
                "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {out}"
    return out


def test_report_against_has_the_comparison(env, against_page):
    page = against_page.read_text(encoding="utf-8")
    parsed = _parse(page)
    _assert_offline(page, parsed)
    assert len(parsed.loads) == 6  # three plots per result
    rep = compare(env.usem3, env.bm25, n_permutations=2000)  # A = --against, B = RESULT; same seed
    rows = parsed.tables["compare-settings"]["rows"]
    assert [r[0] for r in rows] == [r.id for r in rep.settings]
    for html_row, row in zip(rows, rep.settings):
        assert html_row == [row.id, row.kind, *_cells(row)]
    aggs = parsed.tables["compare-aggregates"]["rows"]
    assert [(r[0], r[2:]) for r in aggs] == [(r.id, _cells(r)) for r in rep.aggregates]
    assert "correction: Holm within each family: settings (12 tests), aggregates (6 tests)" in page
    side = {r[0]: r[1:4] for r in parsed.tables["side-by-side"]["rows"]}
    ka, kb = env.usem3.aggregates.kinds, env.bm25.aggregates.kinds
    for k in ("mono", "cross", "multi"):
        assert side[f"mean({k}) mAP"] == [f"{ka[k]['map']:.4f}", f"{kb[k]['map']:.4f}",
                                          f"{kb[k]['map'] - ka[k]['map']:+.4f}"]
    ra, rb = (x.aggregates.rank_distance["macro"] for x in (env.usem3, env.bm25))
    assert side["rank distance"] == [f"{ra:.1f}", f"{rb:.1f}", f"{rb - ra:+.1f}"]
    langs = parsed.tables["side-by-side-langs"]
    assert langs["head"][:3] == ["query language", "mono A", "mono B"]
    qa, qb = env.usem3.aggregates.query_langs, env.bm25.aggregates.query_langs
    assert langs["rows"][0][:3] == ["de", f"{qa['mono']['de']['map']:.4f}", f"{qb['mono']['de']['map']:.4f}"]
    assert "A: use-m3" in page and "B: bm25" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(env, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(build_report(env.bm25), encoding="utf-8")
    shot = tmp_path / "shot.png"
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        rgb = np.asarray(im.convert("RGB"), dtype=float)
    assert rgb.std() > 20  # not blank
    # the embedded plots were decoded and drawn: viridis / magma cells are strongly coloured, while
    # the page itself is black, grey and white
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    assert (chroma > 80).mean() > 0.03
    # text was drawn: many dark pixels in the top band (title, tables)
    assert (rgb[:600].mean(axis=2) < 100).mean() > 0.005


# --- validation --------------------------------------------------------------------------------

def _copy(src: Path, dest: Path, edit) -> Path:
    """The result file and its sidecar copied to ``dest`` with ``edit(doc)`` applied to the JSON."""
    dest.mkdir(parents=True)
    doc = json.loads(src.read_text(encoding="utf-8"))
    shutil.copy(src.parent / doc["per_query"]["file"], dest)
    edit(doc)
    out = dest / src.name
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def _pop(*keys):
    def edit(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
    return edit


EDITS = {
    "schema": (lambda d: d.update(schema="mlbench.result/3"), "'schema'"),  # /2 is the current schema
    "aggregates": (_pop("aggregates"), "'aggregates'"),
    "languages": (_pop("task", "languages"), "'task.languages'"),
    "matrix": (_pop("aggregates", "language_bias", "top10", "matrix"), "'aggregates.language_bias.top10.matrix'"),
    "metrics": (_pop("run", "metrics"), "'run.metrics'"),
}


@pytest.mark.parametrize("name", EDITS)
def test_defective_result_is_refused_naming_file_and_field(env, tmp_path, name):
    edit, field = EDITS[name]
    bad = _copy(env.paths.bm25, tmp_path / "bad", edit)
    with pytest.raises(MlbenchError) as exc:
        check_result(read_result(bad))
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{bad}: ") and field in msg


@pytest.mark.parametrize("command, name", [("report", "schema"), ("plot", "matrix")])
def test_defective_result_on_the_command_line_is_one_line_and_exit_2(env, tmp_path, command, name):
    edit, field = EDITS[name]
    bad = _copy(env.paths.bm25, tmp_path / "bad", edit)
    r = run_cli(command, str(bad), "-o", str(tmp_path / "out"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mlbench: error: {bad}: ") and field in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_against_of_another_task_or_unknown_metric_is_refused(env, tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("report", str(env.paths.bm25), "--against", str(env.paths.other_task), "-o", str(out))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"mlbench: error: {env.paths.other_task}: field 'task.name' is 'mlqa-r' but "), r.stderr
    assert not out.exists()
    with pytest.raises(MlbenchError, match=f"{re.escape(str(env.paths.bm25))}: field 'run.metrics' has no 'ndcg@3'"):
        build_report(env.bm25, metric="ndcg@3")
    older = _copy(env.paths.usem3, tmp_path / "v2", lambda d: d["task"].update(version="2.0"))
    with pytest.raises(MlbenchError, match=f"{re.escape(str(older))}: field 'task.version' is '2.0'"):
        build_report(env.bm25, read_result(older))
