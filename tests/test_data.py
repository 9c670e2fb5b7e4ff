"Bad input to ftbook.data: each case gets one clear message and loses nothing."
import os, sys, urllib.error, zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ftbook.data import (CIFAR10_ZIP, DataError, data_dir, load_cifar10, load_image_folder, make_messy_folder,
                         transfer_split, load_digits_images)


def snapshot(root):
    return {p: p.read_bytes() for p in Path(root).rglob('*') if p.is_file()}


def test_data_dir_missing(tmp_path, monkeypatch):
    monkeypatch.setenv('FTBOOK_DATA', str(tmp_path / 'typo'))
    with pytest.raises(DataError, match='is not an existing folder.*mkdir -p'):
        data_dir()
    assert not (tmp_path / 'typo').exists()


def test_data_dir_is_a_file(tmp_path, monkeypatch):
    f = tmp_path / 'file'; f.write_text('keep me')
    monkeypatch.setenv('FTBOOK_DATA', str(f))
    with pytest.raises(DataError, match='not an existing folder'):
        data_dir()
    assert f.read_text() == 'keep me'


@pytest.mark.skipif(not Path('/proc/self').is_dir(), reason='needs a folder no one can write to (/proc)')
def test_data_dir_not_writable(monkeypatch):
    monkeypatch.setenv('FTBOOK_DATA', '/proc')
    with pytest.raises(DataError, match='not writable'):
        data_dir()


def test_data_dir_default_is_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv('FTBOOK_DATA', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert data_dir() == tmp_path / 'ftbook'


def test_cifar_zip_wrong_checksum_is_never_cached(data_home):
    bad = data_home / CIFAR10_ZIP
    with zipfile.ZipFile(bad, 'w') as z: z.writestr('cifar10/train/cat/0000.jpg', b'not the real thing')
    with pytest.raises(DataError, match='SHA-256.*damaged or truncated'):
        load_cifar10('train', download=False)
    assert sorted(p.name for p in data_home.iterdir()) == [CIFAR10_ZIP]


def test_cifar_zip_truncated(data_home):
    (data_home / CIFAR10_ZIP).write_bytes(b'PK\x03\x04' + bytes(1000))
    with pytest.raises(DataError, match='damaged or truncated'):
        load_cifar10('test', download=False)
    assert not (data_home / 'cifar10-uint8.safetensors').exists()


def test_cifar_offline_names_every_place(data_home, monkeypatch):
    import torchvision.datasets
    def offline(self): raise urllib.error.URLError('no network')
    monkeypatch.setattr(torchvision.datasets.CIFAR10, 'download', offline)
    with pytest.raises(DataError) as e:
        load_cifar10('train', download=True)
    msg = str(e.value)
    for place in ('cifar10-uint8.safetensors', 'cifar-10-batches-py', CIFAR10_ZIP, 'download failed', 'FTBOOK_DATA'):
        assert place in msg


def test_cifar_corrupt_torchvision_folder(data_home):
    (data_home / 'cifar-10-batches-py').mkdir()
    with pytest.raises(DataError, match='incomplete or corrupted'):
        load_cifar10('train', download=False)


def test_cifar_split_name():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_cifar10('valid')


def test_folder_missing(tmp_path):
    with pytest.raises(DataError, match='is not a folder'):
        load_image_folder(tmp_path / 'nope')


def test_folder_empty(tmp_path):
    with pytest.raises(DataError, match='no class folders'):
        load_image_folder(tmp_path)


def test_folder_single_class(tmp_path):
    (tmp_path / 'cats').mkdir()
    Image.new('RGB', (16, 16)).save(tmp_path / 'cats' / 'a.png')
    with pytest.raises(DataError, match='single class'):
        load_image_folder(tmp_path)


def test_folder_only_non_images(tmp_path):
    for c in ('a', 'b'):
        (tmp_path / c).mkdir(); (tmp_path / c / 'x.txt').write_text('hello'); (tmp_path / c / 'y.jpg').write_bytes(b'junk')
    with pytest.raises(DataError, match='no usable images') as e:
        load_image_folder(tmp_path)
    assert 'y.jpg' in str(e.value)


def test_messy_folder_keeps_good_drops_bad_touches_nothing(tmp_path):
    root = make_messy_folder(tmp_path / 'photos')
    before = snapshot(root)
    data = load_image_folder(root, size=24)
    ds = data.splits['all']
    assert ds.classes == ['chat tigré', 'hund']
    assert ds.x.shape == (12, 3, 24, 24) and ds.x.dtype == torch.uint8
    reasons = {Path(d.path).name: d.reason for d in data.dropped}
    assert set(reasons) == {'truncated.jpg', 'copy of 00.jpg', 'notes.txt', 'fake.png', 'bomb.png'}
    assert 'too large' in reasons['bomb.png'] and 'duplicate' in reasons['copy of 00.jpg']
    assert 'bomb.png' in data.report()
    assert snapshot(root) == before


def test_split_layout_and_names(tmp_path):
    for split in ('training_set', 'val', 'test'):
        for c in ('grand chien', 'čočka'):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((20, 30, 3), 40 * i + len(split) + len(c), np.uint8)).save(tmp_path / split / c / f'{i}.png')
    data = load_image_folder(tmp_path, size=16)
    assert set(data.splits) == {'train', 'valid', 'test'}
    assert data.splits['valid'].classes == ['grand chien', 'čočka']
    assert all(len(s) == 6 for s in data.splits.values())


def test_split_layout_without_train(tmp_path):
    (tmp_path / 'valid' / 'a').mkdir(parents=True); (tmp_path / 'test' / 'a').mkdir(parents=True)
    with pytest.raises(DataError, match='none for training'):
        load_image_folder(tmp_path)


def test_transfer_split_unknown_target():
    with pytest.raises(DataError, match='not among'):
        transfer_split(load_digits_images(), ['cat'], 5)


def test_too_few_per_class():
    with pytest.raises(DataError, match='fewer than'):
        transfer_split(load_digits_images(), ['5', '6'], 10_000)


def test_cnn_pictures_from_the_package():
    "ftbook.cnn's kernel and feature-map pictures work from the package, not only inside chapter 02's notebook."
    import torch
    from ftbook.cnn import show_feature_maps, show_filters
    torch.manual_seed(0)
    for fig in (show_filters(torch.randn(4, 3, 3, 3), ncols=4), show_feature_maps(torch.randn(3, 8, 8), ncols=3)):
        assert fig is not None and len(fig.axes) >= 3
