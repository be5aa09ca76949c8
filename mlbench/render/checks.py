"""A :class:`~mlbench.analysis.check.CheckReport` for people and for CI systems: a table, JSON,
markdown (e.g. ``$GITHUB_STEP_SUMMARY``) and JUnit XML."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from xml.etree import ElementTree as ET

from mlbench.analysis.check import CheckReport
from mlbench.files import write_text
from mlbench.render.formats import num, signed
from mlbench.render.tables import Column, TextTable

ORDER = {"FAIL": 0, "WARN": 1, "OK": 2}
STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


def table(report: CheckReport) -> TextTable:
    t = TextTable([Column("verdict"), Column("target"), Column("metric"), Column("reference", "right"),
                   Column("actual", "right"), Column("delta", "right"), Column("p adj.", "right"), Column("why")],
                  title=f"mlbench check — {report.task} — {report.result}")
    for v in sorted(report.verdicts, key=lambda v: ORDER[v.status]):
        t.add(v.status, v.rule.target, v.rule.metric, num(v.rule.reference), num(v.actual), signed(v.delta),
              "" if v.p_adjusted is None else f"{v.p_adjusted:.3g}", v.reason, style=STYLE[v.status])
    c = report.counts()
    t.caption = f"{c['OK']} OK, {c['WARN']} WARN, {c['FAIL']} FAIL"
    return t


def to_json(report: CheckReport) -> str:
    return json.dumps({"result": report.result, "task": report.task, "counts": report.counts(),
                       "exit_code": report.exit_code, "notes": report.notes,
                       "verdicts": [{**asdict(v.rule), "actual": v.actual, "delta": v.delta, "status": v.status,
                                     "reason": v.reason, "p_adjusted": v.p_adjusted} for v in report.verdicts]},
                      indent=1)


def to_markdown(report: CheckReport) -> str:
    c = report.counts()
    icon = {"OK": "✅", "WARN": "⚠️", "FAIL": "❌"}
    head = "❌ regression" if report.exit_code else "✅ no regression"
    lines = [f"### mlbench check: {head} — {report.task}", "",
             f"`{report.result}`: {c['OK']} OK, {c['WARN']} WARN, {c['FAIL']} FAIL", ""]
    lines += [f"- {n}" for n in report.notes]
    lines += ["", "| | target | metric | reference | actual | Δ | p (adj.) | why |", "|---|---|---|---:|---:|---:|---:|---|"]
    order = {"FAIL": 0, "WARN": 1, "OK": 2}
    for v in sorted(report.verdicts, key=lambda v: order[v.status]):
        p = "" if v.p_adjusted is None else f"{v.p_adjusted:.3g}"
        lines.append(f"| {icon[v.status]} {v.status} | `{v.rule.target}` | {v.rule.metric} | {v.rule.reference:.4f} | "
                     f"{v.actual:.4f} | {v.delta:+.4f} | {p} | {v.reason} |")
    return "\n".join(lines) + "\n"


def to_junit(report: CheckReport) -> str:
    c = report.counts()
    suite = ET.Element("testsuite", name=f"mlbench check {report.task}", tests=str(len(report.verdicts)),
                       failures=str(c["FAIL"]), errors="0", skipped="0")
    for v in report.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"mlbench.{report.task}.{v.rule.origin}",
                             name=f"{v.rule.target} {v.rule.metric}")
        text = (f"reference {v.rule.reference:.6g}, actual {v.actual:.6g}, delta {v.delta:+.6g}, "
                f"tolerance {v.rule.tolerance:g} ({v.rule.direction} is better): {v.reason}")
        if v.status == "FAIL":
            ET.SubElement(case, "failure", message=v.reason, type="regression").text = text
        else:
            ET.SubElement(case, "system-out").text = f"{v.status}: {text}"
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(report: CheckReport, junit: Path | None, markdown: Path | None, json_out: Path | None) -> None:
    for path, render in ((junit, to_junit), (markdown, to_markdown), (json_out, to_json)):
        if path is not None:
            write_text(Path(path), render(report))
