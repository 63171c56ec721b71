"""The English catalogue is compiled at start-up into a cache folder shared by every process on
the machine (web server, timer worker, test workers): processes starting together must not trip
over each other's half-written files."""
from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from babel.support import Translations

from webapp.i18n import SOURCE_DIR, compile_catalogues


def test_catalogues_compiled_by_many_processes_at_once(tmp_path):
    source = tmp_path / "translations"
    shutil.copytree(SOURCE_DIR, source)
    po = next(source.glob("en/LC_MESSAGES/*.po"))     # a cache folder of its own: the content differs
    po.write_text(po.read_text(encoding="utf-8") + f"\n# run {uuid.uuid4()}\n", encoding="utf-8")
    target = None
    try:
        with ProcessPoolExecutor(8) as pool:
            targets = {f.result() for f in [pool.submit(compile_catalogues, source) for _ in range(16)]}
        assert len(targets) == 1
        target = targets.pop()
        assert Translations.load(str(target), ["en"]).gettext("待办任务") == "Inbox"
        assert [p.name for p in Path(target).rglob("*") if p.is_file()] == ["messages.mo"]
    finally:
        if target:
            shutil.rmtree(target, ignore_errors=True)


def test_every_text_marked_in_the_web_app_has_english():
    """What `pybabel extract` would collect from webapp/ (gettext, _ and lazy _l, Python and
    templates) is all translated in the English catalogue."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    webapp = SOURCE_DIR.parent
    marked = {(m if isinstance(m, str) else m[0]): f"{path}:{line}"
              for path, line, m, *_ in extract_from_dir(str(webapp), method_map, keywords=keywords)}
    with next(SOURCE_DIR.glob("en/LC_MESSAGES/*.po")).open("rb") as fh:
        catalogue = read_po(fh)
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalogue if m.id and m.string}
    missing = sorted(f"{where}: {text}" for text, where in marked.items() if text not in translated)
    assert len(marked) > 500 and not missing, missing
