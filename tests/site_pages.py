"What the site checks share: where the built site is, which pages it must have, and a small HTML reader."
import os, re
from html.parser import HTMLParser
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
SITE = Path(os.environ.get('FTBOOK_SITE', ROOT/'_docs'))

def in_ci() -> bool: return os.environ.get('CI', '').lower() in ('1', 'true', 'yes')

def need(ok: bool, why: str):
    "Skip with `why` when `ok` is false, except in CI, where the site checks must run: there it fails instead."
    if ok: return
    if in_ci(): pytest.fail(f"{why} (CI=true: the site checks must run in CI)")
    pytest.skip(why)

def need_site():
    need((SITE/'index.html').is_file(), f"no built site at {SITE}: run `make docs` first (it needs Quarto)")

def _entries(node):
    "Every page file named in a sidebar.yml node (strings, `href:`/`file:` entries and nested `contents`)."
    if isinstance(node, str): yield node
    elif isinstance(node, list):
        for n in node: yield from _entries(n)
    elif isinstance(node, dict):
        for k in ('href', 'file'):
            if isinstance(node.get(k), str): yield node[k]
        yield from _entries(node.get('contents', []))

def sidebar_sources() -> list:
    "The notebooks (and .qmd/.md pages) listed in nbs/sidebar.yml, in order, with index first."
    side = yaml.safe_load((NBS/'sidebar.yml').read_text())['website']['sidebar']['contents']
    srcs = [e for e in _entries(side) if Path(e).suffix in ('.ipynb', '.qmd', '.md')]
    return list(dict.fromkeys(['index.ipynb'] + srcs))

def page_of(src: str) -> str:
    "The HTML page Quarto renders a source to: the prefix of `01_data.ipynb` or `09a_core.ipynb` is dropped (`data.html`), as nbdev's `nbpath2html` does."
    p = Path(src)
    return str(p.with_name(re.sub(r'^\d+[a-zA-Z0-9]*_', '', p.stem.lower()) + '.html'))

def chapter_title(src: str) -> str:
    "The title a chapter's page shows: the notebook's first `# ` heading."
    import nbformat
    if not src.endswith('.ipynb'): return ''
    for c in nbformat.read(NBS/src, as_version=4).cells:
        if c.cell_type == 'markdown':
            for line in c.source.splitlines():
                if line.startswith('# '): return line[2:].strip()
    return ''

class Page(HTMLParser):
    "Links, images, scripts/stylesheets and element ids of one HTML page."
    def __init__(self, path: Path):
        super().__init__()
        self.path, self.links, self.images, self.resources, self.ids, self.headings = path, [], [], [], set(), []
        self._h = None
        self.feed(path.read_text(encoding='utf-8'))
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if a.get('name') and tag == 'a': self.ids.add(a['name'])
        if tag == 'a' and a.get('href') is not None: self.links.append(a['href'])
        if tag == 'img' and a.get('src') is not None: self.images.append(a['src'])
        if tag == 'script' and a.get('src'): self.resources.append(a['src'])
        if tag == 'link' and a.get('href') and a.get('rel') in ('stylesheet', 'icon', 'preload', 'modulepreload'):
            self.resources.append(a['href'])
        if tag in ('h1', 'h2', 'h3', 'h4'): self._h = [a.get('id', ''), '']
    def handle_data(self, data):
        if self._h is not None: self._h[1] += data
    def handle_endtag(self, tag):
        if tag in ('h1', 'h2', 'h3', 'h4') and self._h is not None:
            self.headings.append((self._h[0], self._h[1].strip()))
            self._h = None

def is_external(url: str) -> bool: return bool(re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:|^//', url))
