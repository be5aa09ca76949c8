"""`mlbench check`: pinned expectations pass, a degraded checkpoint fails, bad input is exit 2."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli
from junitparser import JUnitXml

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
