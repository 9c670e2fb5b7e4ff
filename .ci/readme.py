"README.md from nbs/index.ipynb where Quarto (and so nbdev-readme) is not installed."
import sys, nbformat
from nbconvert import MarkdownExporter

nb = nbformat.read(sys.argv[1], as_version=4)
def hidden(c): return c.cell_type == 'code' and any(l.strip() in ('#| hide', '#|hide', '#| include: false') for l in c.source.splitlines())
nb.cells = [c for c in nb.cells if not hidden(c)]
for c in nb.cells:
    if c.cell_type == 'code': c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
md, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
open(sys.argv[2], 'w').write(md)
print(f"wrote {sys.argv[2]} from {sys.argv[1]}")
