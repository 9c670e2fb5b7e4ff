"""Give each exported constant a visible cell, so the docs page shows it (nbdev hides `#| export` code and
`show_doc` only documents functions and classes). Usage: python .ci/show_constants.py nbs/*.ipynb

An `#| export` cell that assigns public names listed in its module's `__all__` alongside functions gets those
assignments moved into an `#| exports` cell of their own: above the cell, or below it when a value uses a name the
cell defines. Prints each move; run nbdev-export and nbdev-clean afterwards.
"""
import ast, json, sys, uuid
from pathlib import Path

def directive_names(src: str) -> list:
    return [l[3:].split(':')[0].strip() for l in src.splitlines() if l.startswith('#| ')]

def split(src: str):
    "(constants, rest, below) for an `export` cell mixing public assignments with definitions, else None."
    if 'export' not in directive_names(src): return None
    trees = ast.parse(src).body
    consts = [t for t in trees if isinstance(t, (ast.Assign, ast.AnnAssign)) and
              any(isinstance(n, ast.Name) and not n.id.startswith('_')
                  for tg in (t.targets if isinstance(t, ast.Assign) else [t.target]) for n in ast.walk(tg))]
    defs = {t.name for t in trees if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if not consts or not defs: return None
    used = {n.id for t in consts for n in ast.walk(t.value) if isinstance(n, ast.Name)} if consts else set()
    lines = src.splitlines()
    taken = {i for t in consts for i in range(t.lineno - 1, t.end_lineno)}
    rest = [l for i, l in enumerate(lines) if i not in taken]
    while len(rest) > 1 and not rest[1].strip(): rest.pop(1)  # no blank line left right under the directive
    return '\n'.join(['#| exports'] + [lines[i] for i in sorted(taken)]), '\n'.join(rest), bool(used & defs)

def run(path: Path) -> int:
    nb = json.loads(path.read_text())
    out, n = [], 0
    for c in nb['cells']:
        src = ''.join(c['source'])
        parts = split(src) if c['cell_type'] == 'code' else None
        if not parts:
            out.append(c); continue
        consts, rest, below = parts
        new = dict(cell_type='code', execution_count=None, id=uuid.uuid4().hex[:8], metadata={}, outputs=[],
                   source=consts.splitlines(keepends=True))
        c['source'] = rest.splitlines(keepends=True)
        out += [c, new] if below else [new, c]
        n += 1
        print(f"{path.name}: cell {c.get('id')}: {'below' if below else 'above'} it, " + consts.replace('\n', ' | ')[:150])
    if n:
        nb['cells'] = out
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return n

if __name__ == '__main__':
    print(f"{sum(run(Path(p)) for p in sys.argv[1:])} cell(s) split")
