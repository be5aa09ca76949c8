"""A task format from outside mlbench, registered as an entry point (``mlbench.formats``) by the
tests that use it: one TSV file per language (``Q\tid\tgroup\ttext``, ``C\tid\ttext``,
``J\tgroup\tcandidate\tgrade``), pinned by sha256 like any ``files`` source, with one option of its
own (``lowercase``, given by ``--loader-arg lowercase=true``). It uses nothing but the loader
interface, so whatever mlbench does with it shows that such a loader is first-class."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mlbench.data.loader import Loader, LoadRequest, Summary
from mlbench.data.model import LangData, MemoryCandidates, Queries, TaskData
from mlbench.data.sources import available_locally, fetch
from mlbench.errors import MlbenchError
from mlbench.options import OptionGroup


@dataclass
class TsvOptions(OptionGroup):
    lowercase: bool = False

    FLAGS: ClassVar[dict[str, str]] = {"lowercase": "--loader-arg lowercase"}
    APPLIES_TO: ClassVar[str] = "tasks of format qa-tsv"


def parse(text: str, lang: str, where: str, lowercase: bool) -> LangData:
    q_ids, q_texts, groups, c_ids, c_texts = [], [], [], [], []
    judged: dict[str, dict[str, int]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split("\t")
        fix = (lambda t: t.lower()) if lowercase else (lambda t: t)
        if parts[0] == "Q" and len(parts) == 4:
            q_ids.append(parts[1])
            groups.append(parts[2])
            q_texts.append(fix(parts[3]))
        elif parts[0] == "C" and len(parts) == 3:
            c_ids.append(parts[1])
            c_texts.append(fix(parts[2]))
        elif parts[0] == "J" and len(parts) == 4:
            judged.setdefault(parts[1], {})[parts[2]] = int(parts[3])
        else:
            raise MlbenchError(f"{where}:{n}: not a Q, C or J line of the qa-tsv format")
    return LangData(lang, Queries(q_ids, q_texts, groups), MemoryCandidates(c_ids, c_texts), judged)


class TsvLoader(Loader):
    format = "qa-tsv"
    options = TsvOptions

    def slice(self, req: LoadRequest) -> dict[str, Any]:
        return {"lowercase": req.options.lowercase}

    def load(self, req: LoadRequest) -> TaskData:
        langs, files = {}, {}
        for lang in req.langs:
            f = fetch(req.spec, lang, req.data_dir)
            langs[lang] = parse(f.data.decode("utf-8"), lang, f.named, req.options.lowercase)
            files[lang] = {"origin": f.origin, "sha256": f.sha256}
        return TaskData(spec=req.spec, langs=langs, answers="own", ids_name_language=False,
                        candidate_text="the C line's text", source="qa-tsv files", files=files,
                        facts={"format": "qa-tsv", "lowercase": req.options.lowercase})

    def summary(self, spec: Any, data_dir: Path | None) -> Summary:
        if not all(available_locally(spec, lang, data_dir) for lang in spec.languages):
            return Summary(None, None, "qa-tsv files not found")
        data = self.load(LoadRequest(spec, spec.languages, data_dir, None, TsvOptions()))
        return Summary(sum(len(d.queries) for d in data.langs.values()), data.n_candidates(), "qa-tsv files")


LOADER = TsvLoader()
