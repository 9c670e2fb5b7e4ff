"EfficientNet-Lite0 from the packaged ImageNet weights: same logits as the reference implementation; a damaged file is refused."
import shutil

import pytest
import torch

from ftbook.imagenet import LITE0_CARD, WeightsError, efficientnet_lite0, lite0_weights_file, read_lite0_state


def test_logits_equal_reference_implementation():
    ref_pkg = pytest.importorskip('efficientnet_lite_pytorch')
    ref = ref_pkg.EfficientNet.from_name('efficientnet-lite0')
    ref.load_state_dict(torch.load(lite0_weights_file(), map_location='cpu', weights_only=True))
    ours = efficientnet_lite0()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(): a, b = ref.eval()(x), ours.eval()(x)
    assert a.shape == b.shape == (2, 1000)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_card_matches_model():
    m = efficientnet_lite0()
    assert sum(p.numel() for p in m.parameters()) == LITE0_CARD['n_params']
    assert len(m.state_dict()) == LITE0_CARD['n_tensors'] and m.num_features == LITE0_CARD['n_features']


@pytest.mark.parametrize('damage', ['truncate', 'flip'])
def test_damaged_weights_file_is_refused(tmp_path, damage):
    bad = tmp_path / 'lite0.pth'
    shutil.copy(lite0_weights_file(), bad)
    data = bytearray(bad.read_bytes())
    bad.write_bytes(data[:len(data) // 2] if damage == 'truncate' else data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    with pytest.raises(WeightsError, match='truncated or altered'): read_lite0_state(bad)
    with pytest.raises(WeightsError, match='no weights file'): read_lite0_state(tmp_path / 'missing.pth')
