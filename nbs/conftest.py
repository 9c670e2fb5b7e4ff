"""nbval runs the notebooks as tests. nbdev-clean keeps their outputs (the docs show them) but drops execution
counts, which nbval would report as 'unrun reference cell has outputs'. Under --nbval-lax outputs are never
compared, so the saved outputs are set aside before the cells run."""


def pytest_collection_modifyitems(items):
    for item in items:
        cell = getattr(item, 'cell', None)
        if cell is not None and item.__class__.__name__ == 'IPyNbCell': cell.outputs = []


_seconds = {}


def pytest_runtest_logreport(report):
    if report.nodeid.endswith('.ipynb') or '.ipynb::' in report.nodeid:
        nb = report.nodeid.split('::')[0]
        _seconds[nb] = _seconds.get(nb, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if _seconds:
        terminalreporter.write_sep('-', 'time per notebook (setup, cells, teardown)')
        for nb, s in _seconds.items(): terminalreporter.write_line(f"{s:7.1f} s  {nb}")
