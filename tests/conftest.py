import pytest

@pytest.fixture
def data_home(tmp_path, monkeypatch):
    "An empty, writable FTBOOK_DATA for one test."
    d = tmp_path / 'ftbook-data'
    d.mkdir()
    monkeypatch.setenv('FTBOOK_DATA', str(d))
    return d


def _exported_run(tmp_path_factory, name: str, make_input, *finetune_args) -> dict:
    "Fine-tune and export (with --int8) through the command line, in a data folder of its own: {dir, folder, out}."
    from ftbook.cli import main
    tmp = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        (tmp/'data').mkdir(); mp.setenv('FTBOOK_DATA', str(tmp/'data'))
        source = make_input(tmp)
        assert main(['finetune', str(source), '--out', str(tmp/'run'), *finetune_args]) == 0
        import contextlib, io
        out = io.StringIO()
        with contextlib.redirect_stdout(out): assert main(['export', str(tmp/'run'), '--int8']) == 0
    return dict(dir=tmp/'run', folder=source, out=out.getvalue())


@pytest.fixture(scope='session')
def exported_photo_run(tmp_path_factory):
    "A small photo run (two tints, 96 px), exported with --int8: made once for the export and serving tests."
    from runs import photos
    return _exported_run(tmp_path_factory, 'photo', lambda t: photos(t/'photos'), '--epochs', '3', '--unfreeze', 'no',
                         '--size', '96')


@pytest.fixture(scope='session')
def exported_text_run(tmp_path_factory):
    "A small text run (20 labelled sentences), exported with --int8: made once for the export, serving and CLI tests."
    from runs import reviews_csv
    return _exported_run(tmp_path_factory, 'text', lambda t: reviews_csv(t/'reviews.csv'), '--epochs', '2', '--unfreeze', 'no')
