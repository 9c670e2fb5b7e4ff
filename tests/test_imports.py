"The package's modules import each other without a cycle: read with ast, so nothing is executed."
import ast
from pathlib import Path

import ftbook

PKG = Path(ftbook.__file__).parent


def package_imports() -> dict:
    "{module: set of ftbook modules it imports at module level or inside functions}."
    graph = {}
    for f in PKG.glob('*.py'):
        if f.name.startswith('_'): continue
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1: deps.add((node.module or '').split('.')[0])
                elif (node.module or '').startswith('ftbook.'): deps.add(node.module.split('.')[1])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split('.')[1] for a in node.names if a.name.startswith('ftbook.')}
        graph[f.stem] = {d for d in deps if d and (PKG / f'{d}.py').exists() and d != f.stem}
    return graph


def find_cycle(graph: dict):
    "One import cycle as a list of modules, or None."
    state, stack = {}, []
    def visit(m):
        state[m] = 'open'; stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 'open': return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)): return c
        state[m] = 'done'; stack.pop()
    for m in sorted(graph):
        if m not in state and (c := visit(m)): return c


def test_cycle_finder_finds_cycles():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_no_import_cycle():
    graph = package_imports()
    assert 'recipe' in graph and 'modality' in graph['recipe']  # the graph was read: the front door imports the interface
    cycle = find_cycle(graph)
    assert cycle is None, ' -> '.join(cycle)


def test_a_text_run_is_recognised_from_a_fresh_process(exported_text_run):
    "modality_for finds the text modality by name (MODALITY_MODULES), with no prior import of ftbook.text and no transformers."
    import subprocess, sys
    run_dir = exported_text_run['dir']
    texts = run_dir.parent/'texts'/'pos'; texts.mkdir(parents=True, exist_ok=True)
    (texts/'a.txt').write_text('a warm and funny film\n')
    code = ("import sys\nfrom ftbook.modality import modality_for\nassert 'ftbook.text' not in sys.modules\n"
            f"a = modality_for({str(run_dir/'model.safetensors')!r}).__name__\n"
            f"b = modality_for('auto', {str(texts.parent)!r}).__name__\n"
            "print(a, b, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ['TextModel', 'TextModel', 'False'], out.stdout
