"""Make README.md's links absolute, so they work on PyPI: chapter pages -> the published site, figures -> raw GitHub
(gathered in README_files/, which is committed), other repository files -> GitHub. Addresses come from pyproject.toml's
[project.urls]. Usage: python .ci/readme_links.py README.md"""
import re, shutil, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
urls = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['urls']
SITE = urls['Documentation'].rstrip('/') + '/'
RAW = urls['Repository'].rstrip('/').replace('https://github.com/', 'https://raw.githubusercontent.com/') + '/main/'
BLOB = urls['Repository'].rstrip('/') + '/blob/main/'

def absolute(url: str) -> str:
    "The address of a README link as PyPI must see it."
    if re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:|//|#', url): return url
    path, _, frag = url.partition('#')
    path = path.removeprefix('./')
    frag = '#' + frag if frag else ''
    if path.startswith('nbs/'): path = path[4:]
    if path.endswith(('.html', '.ipynb', '.qmd')):  # a page of the site; Quarto drops a notebook's 01_ prefix
        page = re.sub(r'^(\d+_)?(.*)\.(html|ipynb|qmd)$', r'\2.html', path)
        return SITE + ('' if page == 'index.html' else page) + frag
    if re.search(r'\.(png|jpe?g|gif|svg|webp)$', path, re.I): return RAW + path
    return BLOB + path + frag

def fix(md: str) -> str:
    md = re.sub(r'(!?\[[^\]]*\]\(\s*<?)([^)\s>]+)', lambda m: m[1] + absolute(m[2]), md)
    md = re.sub(r'((?:src|href)\s*=\s*["\'])([^"\']+)', lambda m: m[1] + absolute(m[2]), md)
    return re.sub(r'^(\s*\[[^\]]+\]:\s*)(\S+)', lambda m: m[1] + absolute(m[2]), md, flags=re.M)

IMG = r'(!\[[^\]]*\]\(\s*<?|<img[^>]*?src\s*=\s*["\'])([^)\s>"\']+\.(?:png|jpe?g|gif|svg|webp))'

def gather_figures(md: str, root: Path) -> str:
    "Move the README's local figures into README_files/ (nbdev-readme leaves them in index_files/...)."
    figs = {}
    for m in re.finditer(IMG, md, flags=re.I):
        src = root/m[2]
        if not re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:|//', m[2]) and src.is_file(): figs[m[2]] = src.read_bytes()
    if not figs: return md
    dest = root/'README_files'
    for old in {Path(u).parts[0] for u in figs} | {'README_files'}:
        if old.endswith('_files'): shutil.rmtree(root/old, ignore_errors=True)
    dest.mkdir()
    names = {}
    for u, data in figs.items():
        names[u] = 'README_files/' + '-'.join(Path(u).parts[1:])
        (root/names[u]).write_bytes(data)
    return re.sub(IMG, lambda m: m[1] + names.get(m[2], m[2]), md, flags=re.I)

if __name__ == '__main__':
    f = Path(sys.argv[1])
    before = gather_figures(f.read_text(), f.parent)
    after = fix(before)
    f.write_text(after)
    n = sum(a != b for a, b in zip(re.findall(r'\]\(([^)\s]+)', before), re.findall(r'\]\(([^)\s]+)', after)))
    print(f"{f}: {n} relative link(s) made absolute ({SITE}, {RAW})")
