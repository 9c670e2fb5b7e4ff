"README.md (and its figures in README_files/) from nbs/index.ipynb where Quarto (and so nbdev-readme) is not installed."
import shutil, sys, nbformat
from pathlib import Path
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import TagRemovePreprocessor

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
nb = nbformat.read(src, as_version=4)
def directives(c): return [l.strip().replace('#|', '', 1).strip() for l in c.source.splitlines() if l.startswith('#|')]
nb.cells = [c for c in nb.cells if not (c.cell_type == 'code' and {'hide', 'include: false'} & set(directives(c)))]
for c in nb.cells:
    if c.cell_type != 'code': continue
    if 'echo: false' in directives(c): c.metadata.setdefault('tags', []).append('remove_input')
    c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
figures = dst.parent/f'{dst.stem}_files'
exporter = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True)
exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags=('remove_input',), enabled=True), enabled=True)
md, res = exporter.from_notebook_node(nb, resources=dict(output_files_dir=figures.name))
shutil.rmtree(figures, ignore_errors=True)
for name, data in res.get('outputs', {}).items():
    (dst.parent/name).parent.mkdir(parents=True, exist_ok=True)
    (dst.parent/name).write_bytes(data)
dst.write_text(md)
print(f"wrote {dst} from {src}" + (f" with {len(res['outputs'])} figure(s) in {figures}/" if res.get('outputs') else ''))
