"""nbval runs the notebooks as tests. nbdev-clean keeps their outputs (the docs show them) but drops execution
counts, which nbval would report as 'unrun reference cell has outputs'. Under --nbval-lax outputs are never
compared, so the saved outputs are set aside before the cells run."""


def pytest_collection_modifyitems(items):
    for item in items:
        cell = getattr(item, 'cell', None)
        if cell is not None and item.__class__.__name__ == 'IPyNbCell': cell.outputs = []


_seconds = {}


def pytest_terminal_summary(terminalreporter):
    if _seconds:
        terminalreporter.write_sep('-', 'time per notebook (setup, cells, teardown)')
        for nb, s in _seconds.items(): terminalreporter.write_line(f"{s:7.1f} s  {nb}")


TIMES_FILE = 'nbval-times.json'


def _machine() -> str:
    "The CPU's model name and core count, for the index page's time column."
    import os, platform
    try: name = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def _record_times():
    "Merge this run's per-notebook seconds into `nbval-times.json` in the data folder (the index reads it)."
    import json, os, tempfile, time
    try:
        from ftbook.data import data_dir, get_scale
        path = data_dir()/TIMES_FILE
        old = json.loads(path.read_text()) if path.exists() else {}
        scale = get_scale()
    except Exception: return                       # no usable data folder: the index says "not measured yet"
    notebooks = old.get('notebooks', {}) if old.get('scale') == scale else {}
    notebooks.update({os.path.basename(nb): round(s, 1) for nb, s in _seconds.items()})
    text = json.dumps(dict(scale=scale, updated=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), machine=_machine(),
                           notebooks=notebooks), indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{TIMES_FILE}.', suffix='.tmp')
    with os.fdopen(fd, 'w') as f: f.write(text)
    os.replace(tmp, path)


def pytest_runtest_logreport(report):
    "Add up each notebook's seconds; after each cell, write the times so far (the index, run last, reads them)."
    if report.nodeid.endswith('.ipynb') or '.ipynb::' in report.nodeid:
        nb = report.nodeid.split('::')[0]
        _seconds[nb] = _seconds.get(nb, 0.0) + report.duration
        if report.when == 'teardown': _record_times()
