"`ftbook export` on small photo and text runs: the ONNX file agrees with PyTorch, preprocessing.json is enough to use it, and bad input is one line and exit 2."
import json

import numpy as np
import pytest
from PIL import Image

from ftbook.cli import main

pytest.importorskip('onnxruntime')

POS = ['a warm and funny film', 'moving and beautifully acted', 'a joy from start to finish', 'smart, tender and wise',
       'the best comedy of the year', 'gorgeous and heartfelt', 'a delight', 'sharp writing and great performances',
       'wonderful', 'i loved every minute']
NEG = ['a dull and lifeless mess', 'boring from start to finish', 'the worst film of the year', 'clumsy and tedious',
       'a waste of a fine cast', 'painfully unfunny', 'a mess', 'flat writing and wooden acting', 'awful', 'i hated it']


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def photos(root, n=8):
    "Two classes of noisy photos, reddish and bluish, as JPEGs of 160 x 120."
    rng = np.random.default_rng(0)
    for c, tint in (('red', (200, 40, 40)), ('blue', (40, 40, 200))):
        (root/c).mkdir(parents=True)
        for i in range(n):
            a = np.clip(rng.normal(tint, 40, (120, 160, 3)), 0, 255).astype('uint8')
            Image.fromarray(a).save(root/c/f'{i}.jpg', quality=90)
    return root


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


def test_export_photo_run(tmp_path, capsys, data_home):
    folder = photos(tmp_path/'photos')
    rc, out, err = run(capsys, 'finetune', folder, '--out', tmp_path/'run', '--epochs', 3, '--unfreeze', 'no', '--size', 96)
    assert rc == 0, err
    rc, out, err = run(capsys, 'export', tmp_path/'run', '--int8')
    assert rc == 0, err
    assert 'largest |logit difference|' in out and 'int8 (static)' in out
    rec = json.loads((tmp_path/'run'/'export.json').read_text())
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    q = rec['int8']
    assert q['bytes'] < rec['bytes'] / 2 and q['valid_n'] == m['n_valid'] and (tmp_path/'run'/'model.int8.onnx').is_file()
    assert all(0 <= a <= 1 for a in q['valid_accuracy'].values())
    report = (tmp_path/'run'/'report.md').read_text()
    assert report.count('## Export') == 1 and 'int8 (static)' in report
    assert rec['passed'] and rec['check']['max_abs_diff'] <= 1e-4 and rec['check']['agreement'] == 1.0
    assert rec['check']['inputs'] == min(32, m['n_valid']) and rec['check']['batch_sizes'] == [1, 3, 7]
    prep = json.loads((tmp_path/'run'/'preprocessing.json').read_text())
    assert prep['size'] == 96 and prep['classes'] == ['blue', 'red']
    import onnxruntime as ort
    session = ort.InferenceSession(str(tmp_path/'run'/'model.onnx'), providers=['CPUExecutionProvider'])
    files = sorted(folder.rglob('*.jpg'))[::4]
    logits = session.run(None, {'image': np.stack([preprocess_by_hand(f, prep) for f in files])})[0]
    rc, out, err = run(capsys, 'predict', tmp_path/'run'/'model', *files, '--json')
    assert rc == 0, err
    assert [prep['classes'][i] for i in logits.argmax(1)] == [r['prediction'] for r in json.loads(out)]


def test_export_text_run(tmp_path, capsys, data_home):
    f = tmp_path/'reviews.csv'
    f.write_text('text,label\n' + '\n'.join(f'{t},pos' for t in POS) + '\n' + '\n'.join(f'{t},neg' for t in NEG) + '\n')
    rc, out, err = run(capsys, 'finetune', f, '--out', tmp_path/'run', '--epochs', 2, '--unfreeze', 'no')
    assert rc == 0, err
    rc, out, err = run(capsys, 'export', tmp_path/'run', '--int8')
    assert rc == 0, err
    rec = json.loads((tmp_path/'run'/'export.json').read_text())
    assert rec['passed'] and rec['kind'] == 'text' and rec['check']['max_abs_diff'] <= 1e-4
    assert rec['int8']['kind'] == 'dynamic' and rec['int8']['bytes'] < rec['bytes'] / 2
    rc, out, err = run(capsys, 'export', tmp_path/'run')  # exporting again replaces the report's section, not adds one
    assert rc == 0, err
    assert (tmp_path/'run'/'report.md').read_text().count('## Export') == 1
    assert (tmp_path/'run'/'tokenizer'/'tokenizer_config.json').is_file()
    assert json.loads((tmp_path/'run'/'preprocessing.json').read_text())['inputs'] == ['input_ids', 'attention_mask']


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
