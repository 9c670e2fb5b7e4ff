import pytest

@pytest.fixture
def data_home(tmp_path, monkeypatch):
    "An empty, writable FTBOOK_DATA for one test."
    d = tmp_path / 'ftbook-data'
    d.mkdir()
    monkeypatch.setenv('FTBOOK_DATA', str(d))
    return d
