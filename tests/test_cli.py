"Bad input to the `ftbook` command: one clear line on stderr, a non-zero exit code, nothing of the user's lost."
import json, pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ftbook.finetune
from ftbook.cli import main
from ftbook.data import make_messy_folder
from ftbook.models import ResNet, save_checkpoint


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return rc, out, err


def make_folder(root, classes=('cat', 'dog'), n=8, size=(40, 30)):
    rng = np.random.default_rng(0)
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 120, (*size[::-1], 3), dtype=np.uint8); a[..., ci % 3] += 120
            Image.fromarray(a).save(root / c / f'{i}.jpg')
    return root


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A small fine-tuned checkpoint on a two-class folder."
    root = make_folder(tmp_path_factory.mktemp('photos') / 'photos')
    out = tmp_path_factory.mktemp('run') / 'run'
    assert main(['finetune', str(root), '--out', str(out), '--size', '32', '--backbone', 'ftbook', '--epochs', '2']) == 0
    return root, out


@pytest.mark.parametrize('setup, message', [
    (lambda p: p / 'missing', 'is not a folder'),
    (lambda p: p, 'no class folders'),
    (lambda p: (make_folder(p, classes=('only',)), p)[1], 'single class'),
    (lambda p: ([(p / c).mkdir() for c in 'ab'], [(p / c / 'x.dat').write_text('hi') for c in 'ab'], p)[2], 'no usable images'),
    (lambda p: (make_folder(p / 'train'), make_folder(p / 'test', classes=('cat', 'dog', 'fox')), p)[2],
     'that the training folder lacks'),  # the one folder walk (chapter 01) checks every split, for both recipes
])
def test_finetune_bad_folders(tmp_path, capsys, setup, message):
    base = tmp_path / 'in'; base.mkdir()
    folder = setup(base)
    rc, _, err = run(capsys, 'finetune', folder, '--out', tmp_path / 'out')
    assert rc == 2 and message in err and err.count('\n') >= 1


def test_messy_folder_trains_and_reports(tmp_path, capsys):
    root = make_messy_folder(tmp_path / 'photos', n_per_class=10)
    before = {p: p.read_bytes() for p in root.rglob('*') if p.is_file()}
    rc, out, _ = run(capsys, 'finetune', root, '--out', tmp_path / 'out', '--size', '32', '--backbone', 'ftbook', '--epochs', '2')
    assert rc == 0
    report = (tmp_path / 'out' / 'report.md').read_text()
    for bad in ('truncated.jpg', 'bomb.png', 'notes.txt', 'fake.png', 'copy of 00.jpg'): assert bad in report
    assert 'chat tigré' in report
    assert {p: p.read_bytes() for p in root.rglob('*') if p.is_file()} == before


def test_out_not_empty_is_refused_and_kept(tmp_path, capsys, trained):
    root, _ = trained
    out = tmp_path / 'out'; out.mkdir(); (out / 'mine.txt').write_text('precious')
    rc, _, err = run(capsys, 'finetune', root, '--out', out, '--size', '32', '--backbone', 'ftbook', '--epochs', '1')
    assert rc == 2 and 'not empty' in err and '--force' in err
    rc, _, _ = run(capsys, 'finetune', root, '--out', out, '--size', '32', '--backbone', 'ftbook', '--epochs', '1', '--force')
    assert rc == 0 and (out / 'mine.txt').read_text() == 'precious' and (out / 'model.safetensors').exists()


@pytest.mark.skipif(not Path('/proc/self').is_dir(), reason='needs /proc')
def test_out_not_writable(tmp_path, capsys, trained):
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', '/proc/ftbook-out')
    assert rc == 2 and 'not writable' in err


def test_evaluate_and_predict(tmp_path, capsys, trained):
    root, out = trained
    rc, text, _ = run(capsys, 'evaluate', out / 'model.safetensors', root, '--json')
    assert rc == 0 and json.loads(text)['n'] == 16
    (tmp_path / 'junk.jpg').write_bytes(b'nope')
    rc, text, _ = run(capsys, 'predict', out / 'model.safetensors', root / 'cat' / '0.jpg', tmp_path / 'junk.jpg', '--json')
    rows = json.loads(text)
    assert rc == 0 and rows[0]['prediction'] in ('cat', 'dog') and 'error' in rows[1]


def test_checkpoint_for_other_classes(tmp_path, capsys, trained):
    _, out = trained
    other = make_folder(tmp_path / 'three', classes=('a', 'b', 'c'), n=3)
    rc, _, err = run(capsys, 'evaluate', out / 'model.safetensors', other)
    assert rc == 2 and 'trained on classes' in err


def test_checkpoint_from_another_architecture(tmp_path, capsys, trained):
    model = ResNet(2, widths=(8, 8, 8))
    model.config = dict(model.config, arch='someone.elses.Net')
    save_checkpoint(tmp_path / 'alien', model, dict(classes=['cat', 'dog'], mean=[0.5] * 3, std=[0.2] * 3, size=32))
    rc, _, err = run(capsys, 'evaluate', tmp_path / 'alien.safetensors', trained[0])
    assert rc == 2 and 'unknown architecture' in err


def test_pickle_is_refused_not_unpickled(tmp_path, capsys, trained):
    class Boom:
        def __reduce__(self): return (Path(tmp_path / 'pwned').write_text, ('ran code',))
    evil = tmp_path / 'evil.safetensors'
    evil.write_bytes(pickle.dumps({'state_dict': Boom()}))
    rc, _, err = run(capsys, 'predict', evil, trained[0] / 'cat' / '0.jpg')
    assert rc == 2 and 'refuses to unpickle' in err and not (tmp_path / 'pwned').exists()
    torch.save({'w': torch.zeros(2)}, tmp_path / 'model.pt')
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', tmp_path / 'o', '--backbone', tmp_path / 'model.pt', '--epochs', '1')
    assert rc == 2 and 'refuses to unpickle' in err


def test_timm_weights_offline_is_one_clear_error(tmp_path, capsys, trained, monkeypatch):
    import timm
    real = timm.create_model
    def offline(name, pretrained=False, **k):
        if pretrained: raise OSError('no network')
        return real(name, pretrained=False, **k)
    monkeypatch.setattr(timm, 'create_model', offline)
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', tmp_path / 'o', '--backbone', 'resnet18', '--weights', 'imagenet')
    assert rc == 2 and 'resnet18' in err and 'could not be downloaded' in err and 'HF_HUB_CACHE' in err
    assert err.count('\n') == 1 and not (tmp_path / 'o').exists()
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', tmp_path / 'o', '--backbone', 'not_a_model_xyz')
    assert rc == 2 and 'not a timm model name' in err


def test_interrupt_keeps_last_checkpoint(tmp_path, capsys, trained, monkeypatch):
    real_fit, calls = ftbook.finetune.fit, {'n': 0}
    def fit_then_interrupt(*a, **k):
        calls['n'] += 1
        if calls['n'] == 2: raise KeyboardInterrupt
        return real_fit(*a, **k)
    monkeypatch.setattr(ftbook.finetune, 'fit', fit_then_interrupt)
    out = tmp_path / 'out'
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', out, '--size', '32', '--backbone', 'ftbook', '--epochs', '6',
                     '--lr', '0.03')
    assert rc == 130 and 'last complete checkpoint' in err and str(out / 'model.safetensors') in err
    from ftbook.models import load_checkpoint
    model, meta = load_checkpoint(out / 'model.safetensors')
    assert meta['classes'] == ['cat', 'dog']


BAD_OPTIONS = [('--bs', '-5'), ('--bs', '0'), ('--bs', 'nan'), ('--epochs', '0'), ('--epochs', '-1'), ('--epochs', 'inf'),
               ('--lr', 'nan'), ('--lr', 'inf'), ('--lr', '-0.1'), ('--lr', '0'), ('--size', '100000'), ('--size', '0'),
               ('--valid-pct', '1.5'), ('--valid-pct', '0'), ('--valid-pct', 'nan'), ('--seed', '-1'), ('--workers', '-2'),
               ('--unfreeze-epochs', '0'), ('--budget', '-1'), ('--budget', 'inf')]


@pytest.mark.parametrize('option, value', BAD_OPTIONS)
def test_bad_option_is_one_line_exit_2_nothing_written(tmp_path, capsys, option, value):
    folder = make_folder(tmp_path / 'photos', n=3)
    rc, out, err = run(capsys, 'finetune', folder, '--out', tmp_path / 'out', option, value)
    assert rc == 2
    assert err.count('\n') == 1 and option in err and 'must be' in err and ' from ' in err and 'usage' not in err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('option, value', [('--epochs', '0'), ('--size', '5000')])
def test_pretrain_options_checked(tmp_path, capsys, option, value):
    rc, _, err = run(capsys, 'pretrain', '--out', tmp_path / 'out', option, value)
    assert rc == 2 and option in err and not (tmp_path / 'out').exists()


def test_finetune_function_checks_options_too(tmp_path):
    from ftbook.cli import UsageError, finetune
    with pytest.raises(UsageError, match='valid_pct must be a number from'):
        finetune(make_folder(tmp_path / 'p', n=3), tmp_path / 'out', valid_pct=float('nan'))
    assert not (tmp_path / 'out').exists()


@pytest.fixture(scope='module')
def lite0_run(tmp_path_factory):
    "The default backbone (EfficientNet-Lite0) on a small two-class folder, at a small size to stay fast."
    root = make_folder(tmp_path_factory.mktemp('lphotos') / 'photos', n=10)
    out = tmp_path_factory.mktemp('lrun') / 'run'
    assert main(['finetune', str(root), '--out', str(out), '--size', '64', '--epochs', '3', '--workers', '0', '--unfreeze', 'no']) == 0
    return root, out


def test_default_is_efficientnet_lite0_with_interval(lite0_run):
    root, out = lite0_run
    m = json.loads((out / 'metrics.json').read_text())
    assert 'tf_efficientnet_lite0' in m['start'] and 'offline' in m['start']
    lo, hi = m['valid']['ci95']
    assert 0 <= lo <= m['valid']['accuracy'] <= hi <= 1 and m['valid']['n'] == 4
    assert 'warning' in m['valid'] and 'cannot be told apart' in (out / 'report.md').read_text()
    assert '--unfreeze no' in m['unfreeze']['why']
    from ftbook.models import read_checkpoint
    meta, _, _ = read_checkpoint(out / 'model.safetensors')
    assert meta['config']['arch'] == 'timm.tf_efficientnet_lite0' and meta['classes'] == ['cat', 'dog']


def test_rerun_reuses_cached_features(lite0_run, capsys):
    root, out = lite0_run
    rc, text, _ = run(capsys, 'finetune', root, '--out', out, '--size', '64', '--epochs', '2', '--workers', '0', '--unfreeze', 'no', '--force')
    assert rc == 0 and 'reusing the body features' in text


def test_lite0_checkpoint_evaluate_and_predict(tmp_path, capsys, lite0_run):
    root, out = lite0_run
    rc, text, _ = run(capsys, 'evaluate', out / 'model.safetensors', root, '--json')
    m = json.loads(text)
    assert rc == 0 and m['n'] == 20 and m['ci95'][0] <= m['accuracy'] <= m['ci95'][1]
    rc, text, _ = run(capsys, 'predict', out / 'model.safetensors', root / 'dog' / '1.jpg', '--json')
    assert rc == 0 and json.loads(text)[0]['prediction'] in ('cat', 'dog')


def test_predict_with_no_readable_input_fails(tmp_path, capsys, lite0_run):
    (tmp_path / 'a.jpg').write_bytes(b'not an image')
    rc, _, err = run(capsys, 'predict', lite0_run[1] / 'model.safetensors', tmp_path / 'a.jpg', tmp_path / 'missing.png')
    assert rc == 2 and 'could be read' in err


def _poison_body(monkeypatch):
    "Make the image body return NaN activations, as a broken backbone would."
    import ftbook.image
    real = ftbook.image.ImageModel.body
    monkeypatch.setattr(ftbook.image.ImageModel, 'body', lambda self, x: {k: v * float('nan') for k, v in real(self, x).items()})


def test_nan_loss_stops_and_saves_no_model(tmp_path, capsys, monkeypatch):
    _poison_body(monkeypatch)
    out = tmp_path / 'out'
    rc, _, err = run(capsys, 'finetune', make_folder(tmp_path / 'p', n=4), '--out', out, '--size', '32', '--epochs', '1', '--workers', '0')
    assert rc == 2 and ('no checkpoint was written' in err or 'no finite loss' in err) and not (out / 'model.safetensors').exists()


def test_nan_loss_cifar8_saves_no_model(tmp_path, capsys, monkeypatch, trained):
    real_fit = ftbook.finetune.fit
    def diverging(model, *a, **k):
        hist = real_fit(model, *a, **k)
        with torch.no_grad(): next(model.parameters()).fill_(float('nan'))
        hist.rows[-1]['train_loss'] = float('nan')
        return hist
    monkeypatch.setattr(ftbook.finetune, 'fit', diverging)
    out = tmp_path / 'out'
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', out, '--size', '32', '--backbone', 'cifar8', '--epochs', '1')
    assert rc == 2 and 'NaN or infinite' in err and not (out / 'model.safetensors').exists()


def test_in_run_test_accuracy_equals_evaluate(tmp_path, capsys):
    "The timing probe for --unfreeze auto must not disturb the model: the run's own test score equals evaluate's."
    root = tmp_path / 'p'
    make_folder(root / 'train', n=8); make_folder(root / 'test', n=6)
    out = tmp_path / 'out'
    rc, _, _ = run(capsys, 'finetune', root, '--out', out, '--size', '48', '--epochs', '2', '--workers', '0', '--budget', '0')
    m = json.loads((out / 'metrics.json').read_text())
    rc2, text, _ = run(capsys, 'evaluate', out / 'model.safetensors', root, '--json')
    assert rc == rc2 == 0 and 'budget' in m['unfreeze']['why'] and json.loads(text)['accuracy'] == m['test']['accuracy']


def test_nan_loss_with_given_lr_names_no_checkpoint(tmp_path, capsys, monkeypatch):
    _poison_body(monkeypatch)
    out = tmp_path / 'out'
    rc, _, err = run(capsys, 'finetune', make_folder(tmp_path / 'p', n=4), '--out', out, '--size', '32', '--epochs', '1',
                     '--workers', '0', '--lr', '0.01')
    assert rc == 2 and 'nan' in err and 'no checkpoint was written' in err and not (out / 'model.safetensors').exists()


def test_interrupt_in_learning_rate_search_says_so(tmp_path, capsys, trained, monkeypatch):
    def interrupt(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(ftbook.finetune, 'fit', interrupt)
    rc, _, err = run(capsys, 'finetune', trained[0], '--out', tmp_path / 'out', '--size', '32', '--backbone', 'ftbook')
    assert rc == 130 and err == 'ftbook finetune: interrupted.\n'


def test_truncated_feature_cache_is_recomputed(lite0_run, capsys):
    "A cache cut in half (a run killed while writing it, a full disk) is computed again, with a line saying so."
    root, out = lite0_run
    f = out / 'features.safetensors'
    f.write_bytes(f.read_bytes()[:f.stat().st_size // 2])
    rc, text, _ = run(capsys, 'finetune', root, '--out', out, '--size', '64', '--epochs', '2', '--workers', '0', '--unfreeze', 'no', '--force')
    assert rc == 0 and 'could not be read' in text and 'computed again' in (out / 'report.md').read_text()
    rc, text, _ = run(capsys, 'finetune', root, '--out', out, '--size', '64', '--epochs', '2', '--workers', '0', '--unfreeze', 'no', '--force')
    assert rc == 0 and 'reusing the body features' in text


def test_run_files_are_written_atomically(lite0_run, monkeypatch, tmp_path):
    "Every file of a run goes through a temporary name and a rename: no half-written file under its real name."
    import os
    import ftbook.data
    renamed = []
    real = os.replace
    monkeypatch.setattr(ftbook.data.os, 'replace', lambda a, b: (renamed.append(Path(b).name), real(a, b)))
    root, _ = lite0_run
    out = tmp_path / 'run'
    assert main(['finetune', str(root), '--out', str(out), '--size', '64', '--epochs', '2', '--workers', '0', '--unfreeze', 'no']) == 0
    assert {p.name for p in out.iterdir()} <= set(renamed)


def test_class_is_named_in_errors(tmp_path, capsys):
    folder = make_folder(tmp_path / 'p', classes=('cats', 'dogs'), n=3)
    for f in list((folder / 'cats').iterdir())[1:]: f.unlink()
    rc, _, err = run(capsys, 'finetune', folder, '--out', tmp_path / 'out', '--size', '32', '--workers', '0')
    assert rc == 2 and "class 'cats' has fewer than 2 usable" in err and not (tmp_path / 'out').exists()


def test_predict_flags_inputs_unlike_training(tmp_path, capsys, lite0_run):
    "predict's JSON carries a distance score and a flag with a threshold set on validation."
    root, out = lite0_run
    noise = tmp_path / 'stripes.png'  # the training images are noise tinted red or green: smooth blue stripes are unlike them
    a = np.zeros((64, 64, 3), dtype=np.uint8); a[::8, :, 2] = 255
    Image.fromarray(a).save(noise)
    rc, text, _ = run(capsys, 'predict', out / 'model.safetensors', root / 'cat' / '0.jpg', noise, '--json')
    rows = json.loads(text)
    assert rc == 0 and all({'ood_score', 'unlike_training'} <= set(r) for r in rows)
    assert rows[1]['ood_score'] > rows[0]['ood_score'] and rows[1]['unlike_training']
    rc, text, _ = run(capsys, 'predict', out / 'model.safetensors', noise)
    assert 'unlike the training images' in text


def test_strategy_auto_follows_chapter_06(tmp_path, capsys):
    "--strategy auto picks the strategy chapter 06's packaged table recommends for the labels per class."
    root = make_folder(tmp_path / 'photos', n=10)
    rc, out, _ = run(capsys, 'finetune', root, '--out', tmp_path / 'out', '--backbone', 'cifar8', '--strategy', 'auto',
                     '--epochs', '1', '--lr', '0.01')
    assert rc == 0
    chosen = json.loads((tmp_path / 'out' / 'model.json').read_text())['strategy']
    assert chosen in ftbook.finetune.STRATEGIES and f"strategy: {chosen}" in out


def test_report_states_the_input_size(lite0_run, trained):
    "The report says the size a run's inputs were resized to, the size its checkpoint records (not '-')."
    from ftbook.models import read_checkpoint
    for _, out in (lite0_run, trained):
        size = read_checkpoint(out / 'model.safetensors')[0]['size']
        assert f"inputs at {size} px" in (out / 'report.md').read_text()


def test_strategy_defaults_to_auto_on_the_backbone_its_table_measured(tmp_path, capsys):
    "Without --strategy, --backbone cifar8 trains what chapter 06's table recommends, on the backbone that table measured."
    from ftbook.finetune import recommended_strategy, strategies_path
    from ftbook.course import CIFAR8_SCALE
    table = json.loads(strategies_path(CIFAR8_SCALE).read_text())
    n = max(int(k) for k in table['recommended'])  # enough images per class to reach the table's largest row
    root = make_folder(tmp_path / 'photos', n=round(n / 0.8) + 2, size=(32, 32))
    rc, out, _ = run(capsys, 'finetune', root, '--out', tmp_path / 'out', '--backbone', 'cifar8', '--epochs', '1', '--lr', '0.01')
    assert rc == 0
    meta = json.loads((tmp_path / 'out' / 'model.json').read_text())
    per_class = json.loads((tmp_path / 'out' / 'metrics.json').read_text())['n_train'] // 2
    assert per_class >= n and meta['strategy'] == recommended_strategy(per_class, CIFAR8_SCALE) == table['recommended'][str(n)]
    assert table['backbone'] in meta['start'] and f"strategy: {meta['strategy']}" in out


def test_text_model_without_the_text_extra_is_one_line_and_exit_2(exported_text_run):
    "predict and evaluate on a text run, in a process where transformers cannot be imported: MissingExtra is an FtbookError."
    import subprocess, sys
    run_dir, f = exported_text_run['dir'], exported_text_run['folder']
    hide = "import sys; sys.modules['transformers'] = None\nfrom ftbook.cli import main\nsys.exit(main(sys.argv[1:]))"
    for args in (['predict', str(run_dir/'model.safetensors'), 'a fine film'],
                 ['evaluate', str(run_dir/'model.safetensors'), str(f)]):
        p = subprocess.run([sys.executable, '-c', hide, *args], capture_output=True, text=True, timeout=300)
        assert p.returncode == 2, (args[0], p.returncode, p.stderr[-2000:])
        assert len(p.stderr.strip().splitlines()) == 1 and 'pip install' in p.stderr, p.stderr


def test_from_scratch_on_a_checkpoint_backbone_starts_from_random_weights(tmp_path, capsys):
    "--strategy from-scratch with --backbone CHECKPOINT trains the checkpoint's architecture from fresh weights, and says so."
    from ftbook.models import read_checkpoint
    torch.manual_seed(1)
    backbone = ResNet(2, widths=(8, 8, 8))
    with torch.no_grad():
        for p in backbone.parameters(): p.fill_(0.05)  # weights no fresh initialisation gives
    save_checkpoint(tmp_path / 'bb', backbone, dict(classes=['a', 'b'], mean=[0.5] * 3, std=[0.2] * 3, size=32))
    root = make_folder(tmp_path / 'photos', size=(32, 32))
    rc, _, err = run(capsys, 'finetune', root, '--out', tmp_path / 'out', '--backbone', tmp_path / 'bb.safetensors',
                     '--strategy', 'from-scratch', '--epochs', '1', '--lr', '1e-6')
    assert rc == 0, err
    start = json.loads((tmp_path / 'out' / 'metrics.json').read_text())['start']
    assert 'random weights' in start, start
    ours, theirs = read_checkpoint(tmp_path / 'out' / 'model.safetensors')[1], read_checkpoint(tmp_path / 'bb.safetensors')[1]
    shared = [k for k in ours if k in theirs and ours[k].shape == theirs[k].shape and ours[k].is_floating_point()
              and 'running' not in k and ours[k].dim() > 1]
    assert shared and all((ours[k] - theirs[k]).abs().max() > 1e-2 for k in shared)  # nothing kept from the checkpoint
    report = (tmp_path / 'out' / 'report.md').read_text()
    assert 'Strategy from scratch (chapter 06)' in report and 'body features computed once' not in report


def test_pretrain_size_without_a_folder_and_a_port_out_of_range_are_one_line(tmp_path, capsys):
    "--size belongs to pretrain --folder (CIFAR-10 is 32 px), and serve --port is checked like every other number."
    rc, _, err = run(capsys, 'pretrain', '--out', tmp_path / 'pre', '--size', '64')
    assert rc == 2 and '--size' in err and '32 px' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'pre').exists()
    rc, _, err = run(capsys, 'serve', tmp_path, '--port', '70000')
    assert rc == 2 and '--port' in err and '65535' in err and len(err.strip().splitlines()) == 1
