"""Checks on the built documentation site (`make docs` -> _docs/) and on what makes it buildable.

Without a built site these tests skip (say why); with CI=true they fail instead, so CI cannot pass without the site.
"""
import ast, importlib, json, re
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest
from site_pages import ROOT, NBS, SITE, Page, is_external, need_site, page_of, sidebar_sources

CHAPTERS = sidebar_sources()

def _page(name: str) -> Page:
    need_site()
    path = SITE/name
    assert path.is_file(), f"{name} is missing from {SITE}: the sidebar lists it, so `make docs` should render it"
    return Page(path)

def _local(page: Page, url: str) -> Path:
    "The file a relative URL on `page` points to."
    return (page.path.parent/unquote(urlsplit(url).path)).resolve()

def _modules() -> dict:
    "Each exported module -> the page that documents it, from nbdev's index (ftbook/_modidx.py)."
    from ftbook._modidx import d
    return {m: next(iter(syms.values()))[0].split('#')[0] for m, syms in d['syms'].items() if syms}

def test_sidebar_lists_every_notebook():
    "A chapter that is not in the sidebar never gets a page a reader can find."
    nbs = sorted(p.name for p in NBS.glob('*.ipynb'))
    missing = [n for n in nbs if n not in CHAPTERS]
    assert not missing, f"notebooks missing from nbs/sidebar.yml: {missing}"

@pytest.mark.parametrize('src', CHAPTERS)
def test_chapter_has_its_page(src):
    p = _page(page_of(src))
    assert p.headings, f"{page_of(src)} has no heading"

@pytest.mark.parametrize('src', CHAPTERS)
def test_images_exist_and_are_not_empty(src):
    p = _page(page_of(src))
    for url in p.images:
        assert not is_external(url) or url.startswith('data:'), f"{p.path.name}: image {url} is not served by the site"
        if url.startswith('data:'): continue
        f = _local(p, url)
        assert f.is_file() and f.stat().st_size > 0, f"{p.path.name}: image {url} is missing or empty"

def _all_pages() -> list:
    need_site()
    return sorted(SITE.rglob('*.html'))

def test_no_broken_internal_link():
    "Every local link, script and stylesheet on every page points to a file that exists (and to an anchor on it)."
    broken, pages = [], {}
    def page(f: Path) -> Page:
        if f not in pages: pages[f] = Page(f)
        return pages[f]
    for path in _all_pages():
        p = page(path)
        for url in p.links + p.resources:
            if not url or is_external(url): continue
            target = _local(p, url) if urlsplit(url).path else path.resolve()
            if target.is_dir(): target = target/'index.html'
            if not target.is_file():
                broken.append(f"{path.relative_to(SITE)}: {url}"); continue
            frag = unquote(urlsplit(url).fragment)
            if frag and target.suffix == '.html':
                t = page(target)
                if frag not in t.ids: broken.append(f"{path.relative_to(SITE)}: {url} (no element with id {frag!r})")
    assert not broken, f"{len(broken)} broken internal link(s):\n" + '\n'.join(broken[:40])

def test_search_index_covers_every_chapter():
    need_site()
    f = SITE/'search.json'
    assert f.is_file(), "search.json is missing: the site's search box would find nothing"
    hrefs = {e['href'].split('#')[0] for e in json.loads(f.read_text())}
    missing = [page_of(s) for s in CHAPTERS if page_of(s) not in hrefs]
    assert not missing, f"search.json has no entry for {missing}"

@pytest.mark.parametrize('module', sorted(_modules()))
def test_exported_names_are_documented(module):
    "Each name in a module's __all__ is on its page: functions and classes with a heading of their own (show_doc)."
    page = _page(_modules()[module])
    text = re.sub(r'<[^>]+>', ' ', page.path.read_text(encoding='utf-8'))
    heads = {h for _, h in page.headings}
    mod = importlib.import_module(module)
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if callable(obj) and getattr(obj, '__module__', module) == module:
            if name not in heads: missing.append(f"{name} (no show_doc heading)")
        elif not re.search(rf'\b{re.escape(name)}\b', text): missing.append(name)
    assert not missing, f"{page.path.name} does not document {module}'s {missing}"

SHOW = {'export', 'exports', 'exporti', 'exec_doc'}

def _filters_warnings(t) -> bool:
    "A module-level `warnings.filterwarnings(...)`: it sets up the process, it computes nothing."
    call = t.value if isinstance(t, ast.Expr) else None
    return isinstance(call, ast.Call) and ast.unparse(call.func) == 'warnings.filterwarnings'

@pytest.mark.parametrize('nb', sorted(p.name for p in NBS.glob('*.ipynb')))
def test_doc_build_runs_only_definitions(nb):
    "nbdev's doc build executes some cells; they must only import, define and show_doc (no data, no training)."
    import warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval, _show_docs  # _do_eval: nbdev 3's rule for what its doc build executes
    ok = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    bad = []
    for c in NBProcessor(NBS/nb).nb.cells:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            if c.cell_type != 'code' or not _do_eval(c): continue
        exported = set(c.directives_) & SHOW
        for t in ast.parse(c.source).body:
            if isinstance(t, ok) or _show_docs([t]) or (exported and isinstance(t, (ast.Assign, ast.AnnAssign))): continue
            if exported and _filters_warnings(t): continue
            bad.append(f"cell {c.idx_}: line {t.lineno}: {ast.unparse(t).splitlines()[0][:80]}")
    assert not bad, (f"{nb}: nbdev's doc build would run these statements (put the cell's imports in a cell of their "
                     "own, e.g. with .ci/split_imports.py):\n" + '\n'.join(bad))

def _links(md: str) -> list:
    "Every link and image address in a markdown file (inline, reference-style and HTML)."
    urls = re.findall(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)', md) + re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', md)
    return urls + re.findall(r'^\s*\[[^\]]+\]:\s*(\S+)', md, flags=re.M)

def test_built_readme_links_are_absolute(tmp_path):
    "`make readme`'s README (PyPI's project page) has no relative link: chapters and figures point to the web."
    import runpy, subprocess, sys
    readme = tmp_path/'README.md'
    subprocess.run([sys.executable, ROOT/'.ci'/'readme.py', NBS/'index.ipynb', readme], check=True, capture_output=True)
    fix = runpy.run_path(str(ROOT/'.ci'/'readme_links.py'))['fix']
    urls = _links(fix(readme.read_text()))
    assert any(u.startswith('https://ftbook.github.io/ftbook/') for u in urls), f"no link to the site in {urls}"
    relative = [u for u in urls if not re.match(r'https?://|mailto:|#', u)]
    assert not relative, f"the README would have relative links, broken on PyPI: {relative}"
