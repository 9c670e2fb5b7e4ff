"`ftbook export` on small photo and text runs: the ONNX file agrees with PyTorch, preprocessing.json is enough to use it, and bad input is one line and exit 2."
import json

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ftbook.cli import main
from runs import photos, reviews_csv

pytest.importorskip('onnxruntime')

def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def preprocess_by_hand(path, prep: dict) -> np.ndarray:
    "One image as preprocessing.json says, with PIL and NumPy only (no torch)."
    img = Image.open(path).convert('RGB')
    short = round(prep['size'] / prep['crop_pct'])
    w, h = img.size
    img = img.resize((short, round(h * short / w)) if w <= h else (round(w * short / h), short), Image.BILINEAR)
    w, h = img.size
    left, top = (w - prep['size']) // 2, (h - prep['size']) // 2
    x = np.asarray(img.crop((left, top, left + prep['size'], top + prep['size'])), dtype=np.float32) / 255
    return ((x - np.array(prep['mean'], dtype=np.float32)) / np.array(prep['std'], dtype=np.float32)).transpose(2, 0, 1)


def test_export_photo_run(exported_photo_run, capsys):
    run_dir, folder, out = exported_photo_run['dir'], exported_photo_run['folder'], exported_photo_run['out']
    assert 'largest |logit difference|' in out and 'int8 (static)' in out
    rec = json.loads((run_dir/'export.json').read_text())
    m = json.loads((run_dir/'metrics.json').read_text())
    q = rec['int8']
    assert q['bytes'] < rec['bytes'] / 2 and q['valid_n'] == m['n_valid'] and (run_dir/'model.int8.onnx').is_file()
    assert q['changed']['total'] >= q['changed']['now_right'] + q['changed']['now_wrong']
    assert q['valid_accuracy']['int8'] - q['valid_accuracy']['float32'] == pytest.approx(
        (q['changed']['now_right'] - q['changed']['now_wrong']) / q['valid_n'])
    report = (run_dir/'report.md').read_text()
    assert report.count('## Export') == 1 and 'int8 (static)' in report
    assert rec['passed'] and rec['check']['max_abs_diff'] <= 1e-4 and rec['check']['agreement'] == 1.0
    assert rec['check']['inputs'] == min(32, m['n_valid']) and rec['check']['batch_sizes'] == [1, 3, 7]
    prep = json.loads((run_dir/'preprocessing.json').read_text())
    assert prep['size'] == 96 and prep['classes'] == ['blue', 'red']
    import onnxruntime as ort
    session = ort.InferenceSession(str(run_dir/'model.onnx'), providers=['CPUExecutionProvider'])
    files = sorted(folder.rglob('*.jpg'))[::4]
    logits = session.run(['logits'], {'image': np.stack([preprocess_by_hand(f, prep) for f in files])})[0]
    rc, out, err = run(capsys, 'predict', run_dir/'model', *files, '--json')
    assert rc == 0, err
    assert [prep['classes'][i] for i in logits.argmax(1)] == [r['prediction'] for r in json.loads(out)]


def test_export_text_run(exported_text_run, tmp_path, capsys):
    run_dir = exported_text_run['dir']
    rec = json.loads((run_dir/'export.json').read_text())
    assert rec['passed'] and rec['kind'] == 'text' and rec['check']['max_abs_diff'] <= 1e-4
    assert rec['int8']['kind'] == 'dynamic' and rec['int8']['bytes'] < rec['bytes'] / 2
    assert (run_dir/'tokenizer'/'tokenizer_config.json').is_file()
    assert json.loads((run_dir/'preprocessing.json').read_text())['inputs'] == ['input_ids', 'attention_mask']
    again = tmp_path/'run'; shutil.copytree(run_dir, again)
    rc, out, err = run(capsys, 'export', again)  # exporting again replaces the report's section, not adds one
    assert rc == 0, err
    assert (again/'report.md').read_text().count('## Export') == 1


def test_export_bad_input(tmp_path, capsys, data_home):
    (tmp_path/'empty').mkdir()
    rc, out, err = run(capsys, 'export', tmp_path/'empty')
    assert rc == 2 and 'is not a run folder' in err and len(err.strip().splitlines()) == 1
    from ftbook.models import ResNet, save_checkpoint
    (tmp_path/'course').mkdir()
    save_checkpoint(tmp_path/'course'/'model', ResNet(2, widths=(8, 16, 32)), dict(classes=['a', 'b']))
    rc, out, err = run(capsys, 'export', tmp_path/'course')
    assert rc == 2 and 'names no modality' in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path/'course').iterdir()) == ['model.json', 'model.safetensors']  # nothing written


def test_a_failed_transformers_export_keeps_the_earlier_one(exported_text_run, tmp_path, monkeypatch):
    "When the new folder cannot be put in place, the earlier export is back where it was, and nothing is left beside it."
    from ftbook.deploy import export_transformers
    run_dir = tmp_path/'run'; shutil.copytree(exported_text_run['dir'], run_dir)
    folder = export_transformers(run_dir)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    rename = Path.rename
    def failing(self, target):
        if self.name.startswith('.transformers.new'): raise OSError('no space left on device')
        return rename(self, target)
    monkeypatch.setattr(Path, 'rename', failing)
    with pytest.raises(OSError, match='no space'): export_transformers(run_dir)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not list(run_dir.glob('.transformers*'))


def test_transformers_format(exported_text_run, exported_photo_run, tmp_path, capsys):
    "A text run as a Transformers folder: pipeline opens it offline and gives ftbook's labels, probabilities within 1e-5."
    transformers = pytest.importorskip('transformers')
    from ftbook.text import text_probabilities
    from runs import NEG, POS
    run_dir = tmp_path/'run'
    shutil.copytree(exported_text_run['dir'], run_dir)
    rc, out, err = run(capsys, 'export', run_dir, '--format', 'transformers')
    assert rc == 0, err
    folder = run_dir/'transformers'
    assert {'config.json', 'model.safetensors', 'modeling_ftbook.py', 'tokenizer.json'} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder/'config.json').read_text())['id2label'] == {'0': 'neg', '1': 'pos'}
    sents = POS[:5] + NEG[:5] + ['a sentence longer than any the run was trained on, so that both sides must cut it at the same token']
    max_len = json.loads((run_dir/'metrics.json').read_text())['texts']['max_len']
    from ftbook.text import load_tokenizer
    assert len(load_tokenizer()(sents[-1])['input_ids']) > max_len  # the last sentence is cut, on both sides
    classes, ours = text_probabilities(run_dir/'model.safetensors', sents)
    clf = transformers.pipeline('text-classification', model=str(folder), trust_remote_code=True, device='cpu')
    theirs = np.array([[next(d['score'] for d in r if d['label'] == c) for c in classes]
                       for r in clf(sents, top_k=None, truncation=True)])
    assert (theirs.argmax(1) == ours.numpy().argmax(1)).all()
    assert np.abs(theirs - ours.numpy()).max() < 1e-5
    with pytest.raises(ValueError, match='trust_remote_code'):  # never silently BERT's [CLS] model with a random pooler
        transformers.AutoModelForSequenceClassification.from_pretrained(str(folder))
    rc, out, err = run(capsys, 'export', run_dir, '--format', 'transformers')  # again: the earlier export is replaced
    assert rc == 0, err
    assert (folder/'modeling_ftbook.py').is_file() and not list(tmp_path.glob('run/.transformers*'))
    from ftbook.deploy import export_transformers
    from ftbook.core import UsageError
    mine = tmp_path/'mine'; mine.mkdir(); (mine/'notes.txt').write_text('keep me')
    with pytest.raises(UsageError, match='not an earlier Transformers export'): export_transformers(run_dir, mine)
    assert [p.name for p in mine.iterdir()] == ['notes.txt']
    photo = tmp_path/'photo-run'
    shutil.copytree(exported_photo_run['dir'], photo)
    rc, out, err = run(capsys, 'export', photo, '--format', 'transformers')
    assert rc == 2 and 'for text runs' in err and len(err.strip().splitlines()) == 1
    assert not (photo/'transformers').exists()
