"""Move top-level imports out of cells that mix them with other code, into a cell of their own just above.

nbdev's doc build executes every cell that contains an import; a cell that also trains, loads data or uses a
variable defined by an earlier (unexecuted) cell then breaks `make docs`. Usage: python .ci/split_imports.py nbs/*.ipynb
(prints each cell it splits; run nbdev-clean afterwards). Cells nbdev executes anyway (export, exec_doc) are left alone.
"""
import ast, json, sys, uuid
from pathlib import Path

SHOW = {'export', 'exports', 'exporti', 'exec_doc'}

def directives(src: str) -> set:
    return {l[3:].split(':')[0].strip() for l in src.splitlines() if l.startswith('#| ')}

def split(src: str):
    "Return (imports, rest) when `src` mixes top-level imports with other statements, else None."
    try: trees = ast.parse(src).body
    except SyntaxError: return None
    imps = [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))]
    if not imps or len(imps) == len(trees) or directives(src) & SHOW: return None
    lines = src.splitlines()
    taken = {i for t in imps for i in range(t.lineno - 1, t.end_lineno)}
    return ('\n'.join(lines[i] for i in sorted(taken)),
            '\n'.join(l for i, l in enumerate(lines) if i not in taken))

def split_notebook(path: Path) -> int:
    nb = json.loads(path.read_text())
    cells, n = [], 0
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        parts = split(src) if c['cell_type'] == 'code' else None
        if parts:
            imports, rest = parts
            print(f"{path.name}: cell {len(cells) - n} ({c.get('id')}) -> imports moved into a cell above:\n  "
                  + imports.replace('\n', '\n  '))
            cells.append(dict(cell_type='code', execution_count=None, id=uuid.uuid4().hex[:8], metadata={},
                              outputs=[], source=imports.splitlines(keepends=True)))
            c['source'] = rest.splitlines(keepends=True)
            n += 1
        cells.append(c)
    if n:
        nb['cells'] = cells
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return n

if __name__ == '__main__':
    total = sum(split_notebook(Path(p)) for p in sys.argv[1:])
    print(f"{total} cell(s) split")
