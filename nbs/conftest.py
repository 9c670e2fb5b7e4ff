"""nbval runs the notebooks as tests. nbdev-clean keeps their outputs (the docs show them) but drops execution
counts, which nbval would report as 'unrun reference cell has outputs'. Under --nbval-lax outputs are never
compared, so the saved outputs are set aside before the cells run."""


def pytest_collection_modifyitems(items):
    for item in items:
        cell = getattr(item, 'cell', None)
        if cell is not None and item.__class__.__name__ == 'IPyNbCell': cell.outputs = []
