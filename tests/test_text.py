"`ftbook finetune`, `predict` and `evaluate` on labelled sentences (chapter 11), on tiny files: every surprise a real file holds."
import json, sys
from pathlib import Path

import pytest

from ftbook.cli import main
from ftbook.text import MissingExtra, TEXT_EXTRA, check_classes, read_labelled_file, require_transformers

POS = ['a gem of a film', 'warm and funny', 'a triumph', 'moving and smart', 'great acting', 'i loved it', 'a joy to watch',
       'beautiful and wise', 'brilliant fun', 'superb from start to end', 'a delight', 'sharp and tender']
NEG = ['a dull mess', 'boring and flat', 'a waste of time', 'tedious and silly', 'awful acting', 'i hated it', 'painful to sit through',
       'ugly and stupid', 'lifeless', 'bad from start to end', 'a disaster', 'clumsy and cold']


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return rc, out, err


def messy_tsv(path: Path) -> Path:
    "Label first, a header, a BOM, CRLF, blank lines, stray quotes, one line not UTF-8 and one very long line."
    rows = [b'label\ttext'] + [f'pos\t{t}'.encode() for t in POS] + [b''] + [f'neg\t{t}'.encode() for t in NEG]
    rows += [b'neg\t"never closed quote, still dull', b'pos\tcaf\xe9 cr\xe8me of a film', b'pos\t' + b'great ' * 300]
    path.write_bytes(b'\xef\xbb\xbf' + b'\r\n'.join(rows) + b'\r\n')
    return path


def test_reader_handles_the_surprises(tmp_path):
    texts, labels, counts = read_labelled_file(messy_tsv(tmp_path / 'r.tsv'))
    assert counts['header'] and counts['not_utf8'] == 1 and len(texts) == len(POS) + len(NEG) + 3
    assert texts[0] == POS[0] and labels[0] == 'pos' and '"never closed quote, still dull' in texts
    assert sorted(set(labels)) == ['neg', 'pos']
    (tmp_path / 'r.csv').write_text('\n'.join(f'"{t}, really",{y}' for t, y in [('good', 'p'), ('bad', 'n'), ('fine', 'p')]))
    texts, labels, counts = read_labelled_file(tmp_path / 'r.csv')
    assert texts[0] == 'good, really' and labels == ['p', 'n', 'p'] and not counts['header']


@pytest.mark.parametrize('labels,msg', [(['a'] * 5, 'single class'), (['a', 'a', 'b'], "class 'b' has fewer than 2")])
def test_bad_label_sets(tmp_path, capsys, labels, msg):
    f = tmp_path / 'one.csv'
    f.write_text('\n'.join(f'sentence {i},{y}' for i, y in enumerate(labels)) + '\n')
    rc, out, err = run(capsys, 'finetune', f, '--out', tmp_path / 'run')
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'run').exists()
    with pytest.raises(Exception, match=msg): check_classes(labels, f)


def test_without_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'transformers', None)
    with pytest.raises(MissingExtra, match=r"pip install 'ftbook\[text\]'"): require_transformers()
    assert 'ftbook[text]' in TEXT_EXTRA


def test_finetune_folder_on_a_labelled_file_from_a_fresh_process(tmp_path, data_home):
    "finetune_folder('reviews.tsv') with only ftbook.recipe imported: the text modality is found by name, not by an import."
    import subprocess
    f, out = messy_tsv(tmp_path / 'reviews.tsv'), tmp_path / 'run'
    code = ("import sys\nfrom ftbook.recipe import finetune_folder\nassert 'ftbook.text' not in sys.modules\n"
            f"run = finetune_folder({str(f)!r}, out={str(out)!r}, epochs=2, unfreeze='no', size=32)\n"
            "print(type(run).__name__, run.metrics['texts']['rows'])")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == f"Run {len(POS) + len(NEG) + 3}", p.stdout[-500:]
    assert json.loads((out/'model.json').read_text())['kind'] == 'text'


def test_finetune_predict_evaluate(tmp_path, capsys, data_home):
    f = messy_tsv(tmp_path / 'reviews.tsv')
    out = tmp_path / 'run'
    rc, o, err = run(capsys, 'finetune', f, '--out', out, '--epochs', 3, '--unfreeze', 'no', '--size', 32)
    assert rc == 0, err
    for name in ('model.safetensors', 'model.json', 'metrics.json', 'report.md', 'confusion_matrix.png'): assert (out/name).is_file()
    m = json.loads((out/'metrics.json').read_text())
    assert len(m['valid']['ci95']) == 2 and m['texts']['not_utf8'] == 1 and m['texts']['truncated'] >= 1 and m['texts']['header']
    report = (out/'report.md').read_text()
    assert 'Worst-predicted validation sentences' in report and 'confusion matrix' in report
    assert '| F1 | texts |' in report and ' texts).' in report and ' images' not in report  # the report counts sentences
    assert 0 <= m['texts']['tfidf_valid_accuracy'] <= 1 and 'TF-IDF + logistic regression on the same split' in report
    rc, o, err = run(capsys, 'finetune', f, '--out', out)
    assert rc == 2 and '--force' in err
    sentences = tmp_path / 'new.txt'
    sentences.write_text('what a lovely film\n\nso boring\n')
    rc, o, err = run(capsys, 'predict', out/'model', 'a joy', sentences, '--json')
    rows = json.loads(o)
    assert rc == 0 and [r['input'] for r in rows] == ['a joy', 'what a lovely film', 'so boring']
    assert all(r['prediction'] in ('neg', 'pos') and 0.5 <= r['probability'] <= 1 for r in rows)
    labelled = tmp_path / 'labelled.csv'
    labelled.write_text('text,label\nwarm and wise,pos\na mess,neg\nfunny,pos\n')
    rc, o, err = run(capsys, 'evaluate', out/'model', labelled, '--json')
    assert rc == 0 and json.loads(o)['n'] == 3
    labelled.write_text('text,label\nwarm and wise,great\na mess,neg\n')
    rc, o, err = run(capsys, 'evaluate', out/'model', labelled)
    assert rc == 2 and 'not trained on' in err


def test_folder_of_split_files(tmp_path, capsys, data_home):
    d = tmp_path / 'data'; d.mkdir()
    (d/'train.csv').write_text('\n'.join(f'{t},pos' for t in POS[:8]) + '\n' + '\n'.join(f'{t},neg' for t in NEG[:8]) + '\n')
    (d/'test.csv').write_text('\n'.join(f'{t},pos' for t in POS[8:]) + '\n' + '\n'.join(f'{t},neg' for t in NEG[8:]) + '\n')
    rc, o, err = run(capsys, 'finetune', d, '--out', tmp_path / 'run', '--epochs', 2, '--unfreeze', 'no')
    assert rc == 0, err
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['test']['n'] == 8 and m['n_train'] + m['n_valid'] == 16


def test_class_folders_of_txt(tmp_path, capsys, data_home):
    d = tmp_path / 'reviews'
    for name, texts in (('pos', POS[:6]), ('neg', NEG[:6])):
        (d/name).mkdir(parents=True)
        for i, t in enumerate(texts): (d/name/f'{i}.txt').write_bytes(b'\xef\xbb\xbf' + t.encode() + b'\r\n')
    (d/'neg'/'empty.txt').write_text('  \n')
    rc, o, err = run(capsys, 'finetune', d, '--out', tmp_path / 'run', '--epochs', 2, '--unfreeze', 'no')
    assert rc == 0, err
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert json.loads((tmp_path/'run'/'model.json').read_text())['kind'] == 'text' and m['dropped'] == 1


def test_tfidf_is_picked_when_it_beats_the_model_on_validation(tmp_path, capsys, data_home, monkeypatch):
    "The fine-tuned model's validation accuracy forced below TF-IDF's, then above it: the pick follows, and predict/evaluate take it."
    import ftbook.recipe as recipe
    from ftbook.text import load_tfidf
    real = recipe.fitted_metrics
    def scored(acc):
        def fitted_metrics(*a, **k):
            m = real(*a, **k); m['valid']['accuracy'] = acc; return m
        return fitted_metrics
    f, out = messy_tsv(tmp_path / 'reviews.tsv'), tmp_path / 'run'
    monkeypatch.setattr(recipe, 'fitted_metrics', scored(-1.0))  # below any accuracy TF-IDF can have
    rc, o, err = run(capsys, 'finetune', f, '--out', out, '--epochs', 2, '--unfreeze', 'no', '--size', 32)
    assert rc == 0, err
    texts = json.loads((out/'metrics.json').read_text())['texts']
    assert texts['picked'] == 'TF-IDF + logistic regression' and (out/'tfidf.safetensors').is_file() and (out/'model.safetensors').is_file()
    assert 'so the recipe picks it' in (out/'report.md').read_text() and 'so the recipe picks it' in o
    rc, o, err = run(capsys, 'predict', out/'tfidf', 'a joy', 'so boring', '--json')
    rows, (pipeline, meta) = json.loads(o), load_tfidf(out/'tfidf')
    expected = pipeline.predict_proba(['a joy', 'so boring'])
    assert rc == 0 and [r['prediction'] for r in rows] == [meta['classes'][i] for i in expected.argmax(1)]
    assert [r['probability'] for r in rows] == pytest.approx(expected.max(1).tolist(), abs=1e-4)
    labelled = tmp_path / 'labelled.csv'
    labelled.write_text('text,label\nwarm and wise,pos\na mess,neg\nfunny,pos\n')
    rc, o, err = run(capsys, 'evaluate', out/'tfidf', labelled, '--json')
    assert rc == 0 and json.loads(o)['n'] == 3
    monkeypatch.setattr(recipe, 'fitted_metrics', scored(2.0))  # above any: the model is kept, the stale pick removed
    rc, o, err = run(capsys, 'finetune', f, '--out', out, '--epochs', 2, '--unfreeze', 'no', '--size', 32, '--force')
    assert rc == 0 and not (out/'tfidf.safetensors').exists() and not (out/'tfidf.json').exists()
    assert json.loads((out/'metrics.json').read_text())['texts']['picked'] == 'the fine-tuned model'
