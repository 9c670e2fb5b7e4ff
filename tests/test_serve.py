"""`ftbook serve`: the API answers what `ftbook predict` answers, refuses bad requests with a 4xx and keeps working,
holds up under a bounded load test on loopback, and its page works in headless Chromium (driven by Playwright)."""
import io, json, shutil
from pathlib import Path

import pytest
from PIL import Image

from ftbook.cli import main
from test_browser import chromium_path
from test_deploy import run

pytest.importorskip('onnxruntime')
pytest.importorskip('fastapi')
from fastapi.testclient import TestClient

from ftbook.deploy import SERVE_LIMITS, BackgroundServer, Predictor, load_test, make_app, multipart_body

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def photo_run(exported_photo_run):
    "The session's exported photo run (served by onnxruntime) and its photos; tests that change it work on a copy."
    return exported_photo_run['dir'], sorted(exported_photo_run['folder'].rglob('*.jpg'))


def predicted_by_cli(capsys, run_dir, files) -> list:
    capsys.readouterr()
    rc, out, err = run(capsys, 'predict', run_dir/'model.safetensors', *files, '--json')
    assert rc == 0, err
    return json.loads(out)


def test_api_answers_as_ftbook_predict(photo_run, capsys):
    run_dir, files = photo_run
    client = TestClient(make_app(Predictor(run_dir)))
    health = client.get('/health').json()
    assert health['status'] == 'ok' and health['backend'] == 'onnxruntime' and health['classes'] == ['blue', 'red']
    served = [client.post('/predict', files={'file': (f.name, f.read_bytes())}).json() for f in files[::3]]
    cli = predicted_by_cli(capsys, run_dir, files[::3])
    assert [s['prediction'] for s in served] == [r['prediction'] for r in cli]
    assert all(abs(s['top'][0]['probability'] - r['probability']) < 1e-3 and abs(s['ood_score'] - r['ood_score']) < 1e-3
               for s, r in zip(served, cli))
    assert all(sum(t['probability'] for t in s['top']) == pytest.approx(1, abs=1e-3) for s in served)  # 2 classes: all of them
    card = client.get('/card').json()
    assert card['classes'] == ['blue', 'red'] and 0 <= card['ci95'][0] <= card['accuracy'] <= card['ci95'][1] <= 1


def test_bad_requests_get_a_4xx_and_the_server_keeps_working(photo_run):
    run_dir, files = photo_run
    client = TestClient(make_app(Predictor(run_dir)))
    good = client.post('/predict', files={'file': ('a.jpg', files[0].read_bytes())})
    bomb = io.BytesIO(); Image.new('L', (30_000, 30_000)).save(bomb, 'PNG')
    big = io.BytesIO(); Image.new('L', (8_000, 8_000)).save(big, 'PNG')  # 64 M pixels: ftbook's limit, not Pillow's
    bad = {'empty': (client.post('/predict', content=b''), 400),
           'not an image': (client.post('/predict', files={'file': ('a.jpg', b'plain text')}), 400),
           'no file field': (client.post('/predict', files={'other': ('a.jpg', files[0].read_bytes())}), 400),
           'json to a photo run': (client.post('/predict', json={'text': 'hi'}), 415),
           'decompression bomb': (client.post('/predict', files={'file': ('b.png', bomb.getvalue())}), 400),
           'oversized': (client.post('/predict', files={'file': ('big.jpg', b'0' * (SERVE_LIMITS['upload_bytes'] + 1))}), 413),
           'oversized, no Content-Length': (client.post('/predict', content=(b'0' * 2**20 for _ in range(11)),
                                                        headers={'Content-Type': 'multipart/form-data; boundary=x'}), 413),
           'above MAX_PIXELS': (client.post('/predict', files={'file': ('b.png', big.getvalue())}), 400),
           'a path in the form': (client.post('/predict', data={'file': str(files[0])}, files={'x': ('x.txt', b'')}), 400),
           'a form without multipart': (client.post('/predict', data={'file': str(files[0])}), 415)}
    for name, (r, status) in bad.items():
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()['error'] and '\n' not in r.json()['error'], name
    assert 'not decoded' in bad['above MAX_PIXELS'][0].json()['error']
    again = client.post('/predict', files={'file': ('a.jpg', files[0].read_bytes())})
    assert good.status_code == again.status_code == 200 and again.json() == good.json()


def test_text_run_is_served_by_pytorch_when_not_exported(exported_text_run, tmp_path, capsys):
    shutil.copytree(exported_text_run['dir'], tmp_path/'run')
    (tmp_path/'run'/'export.json').unlink()  # as a run that was never exported
    client = TestClient(make_app(Predictor(tmp_path/'run')))
    assert client.get('/health').json()['backend'] == 'pytorch'
    said = ['a warm and lovely film', 'a dull mess']
    served = [client.post('/predict', json={'text': t}).json()['prediction'] for t in said]
    rc, out, err = run(capsys, 'predict', tmp_path/'run'/'model.safetensors', *said, '--json')
    assert served == [r['prediction'] for r in json.loads(out)]
    for body, status in ((dict(text='  '), 400), (dict(words='hi'), 400), ('not json', 400), ('[' * 100_000, 400),
                         (dict(text='x' * (SERVE_LIMITS['text_chars'] + 1)), 413)):
        r = client.post('/predict', content=body if isinstance(body, str) else json.dumps(body))
        assert r.status_code == status and r.json()['error'], (body, r.text)
    assert 'textarea' in client.get('/').text


def test_load_on_loopback_is_bounded_and_error_free(photo_run):
    run_dir, files = photo_run
    body, ctype = multipart_body(files[0].read_bytes())
    with BackgroundServer(make_app(Predictor(run_dir))) as url:
        assert url.startswith('http://127.0.0.1:')
        load = load_test(url + 'predict', body, ctype, clients=8, requests=50, timeout=30)
    assert load['errors'] == 0 and len(load['seconds']) == 400, load['first_error']
    print(f"\nload test: {load['requests']} requests from {load['clients']} clients, {load['errors']} errors, "
          f"p50 {load['p50'] * 1000:.0f} ms, p95 {load['p95'] * 1000:.0f} ms, {load['per_second']:.0f} requests/s")


def test_page_in_chromium_shows_what_ftbook_predict_says(photo_run, capsys):
    from site_pages import need
    need(chromium_path() is not None, "no chromium on PATH (apt-get install chromium)")
    sync_playwright = pytest.importorskip('playwright.sync_api').sync_playwright
    run_dir, files = photo_run
    shots = ROOT/'build'/'screenshots'; shots.mkdir(parents=True, exist_ok=True)
    with BackgroundServer(make_app(Predictor(run_dir))) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=['--no-sandbox'])
        try:
            page = browser.new_page(viewport=dict(width=900, height=700))
            page.goto(url)
            assert 'Accuracy on its' in page.text_content('.card')
            labels = []
            for f in (files[0], files[-1]):  # one photo of each class
                page.set_input_files('#file', str(f))
                page.wait_for_function("f => document.getElementById('label') && "
                                       "document.getElementById('label').dataset.file === f", arg=f.name, timeout=20_000)
                labels.append(page.text_content('#label'))
                assert page.locator('.bar').count() == 2 and page.text_content('#error') == ''
            page.screenshot(path=str(shots/'serve.png'))
        finally: browser.close()
    assert labels == [r['prediction'] for r in predicted_by_cli(capsys, run_dir, [files[0], files[-1]])]


def test_serve_bad_run_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path/'empty').mkdir()
    rc, out, err = run(capsys, 'serve', tmp_path/'empty')
    assert rc == 2 and 'is not a run folder' in err and len(err.strip().splitlines()) == 1
    from ftbook.cli import _parser
    assert _parser().parse_args(['serve', 'x']).host == '127.0.0.1'


def test_a_stale_or_failed_export_is_not_served(photo_run, tmp_path, monkeypatch, capsys):
    "A run whose checkpoint changed after its export, or whose export failed its check, is served by PyTorch."
    import shutil
    import ftbook.deploy as deploy
    run_dir = tmp_path/'run'; shutil.copytree(photo_run[0], run_dir)
    assert Predictor(run_dir).backend == 'onnxruntime'
    rec = json.loads((run_dir/'export.json').read_text())  # an export made for another checkpoint than the one in the folder
    (run_dir/'export.json').write_text(json.dumps(dict(rec, checkpoint_sha256='0' * 64)))
    assert Predictor(run_dir).backend == 'pytorch'
    monkeypatch.setattr(deploy, 'CHECK_TOLERANCE', -1.0)  # no export can pass: the failing path
    shutil.rmtree(run_dir); shutil.copytree(photo_run[0], run_dir)
    rc, out, err = run(capsys, 'export', run_dir)
    assert rc == 2 and 'not served' in err and len(err.strip().splitlines()) == 1
    assert json.loads((run_dir/'export.json').read_text())['passed'] is False and Predictor(run_dir).backend == 'pytorch'
