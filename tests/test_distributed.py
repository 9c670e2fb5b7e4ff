"Data parallelism (chapter 13): two ranks under torchrun over loopback, bounded in time, stopping by themselves."
import pytest
import torch

from ftbook.distributed import DistributedError, ddp_check, ring_allreduce, run_ranks

CFG = dict(seed=0, bs=8, steps=2, n=16, lr=0.05, n_eval=9, max_len=16)


@pytest.mark.parametrize('k', [2, 3, 5])
def test_ring_allreduce_sums_and_sends_2_k_minus_1_over_k(k):
    g = torch.Generator().manual_seed(k)
    vs = [torch.randn(31, generator=g) for _ in range(k)]  # 31 numbers: chunks of unequal size
    results, sent = ring_allreduce(vs)
    assert all(torch.allclose(r, sum(vs), atol=1e-5) for r in results)
    assert sum(sent) == 2 * (k - 1) * 31 and max(sent) - min(sent) <= 2 * (k - 1)


def test_two_ranks_train_as_one_process():
    one = ddp_check(0, 1, 'toy', CFG)
    two = run_ranks('ftbook.distributed:ddp_check', 2, dict(task='toy', cfg=CFG), timeout=60)
    assert one['moved'] > 1e-3  # the steps moved the parameters
    assert (one['params'] - two[0]['params']).abs().max() < 1e-6
    assert torch.equal(two[0]['params'], two[1]['params'])
    assert two[0]['counted'].tolist() == [9, 10] and two[0]['right'] == one['right']  # 9 samples, 1 padded, counted once


def test_a_rank_that_dies_is_one_line_and_stops_the_others():
    with pytest.raises(DistributedError, match='rank 1: RuntimeError: rank 1 stopped on purpose') as e:
        run_ranks('ftbook.distributed:ddp_check', 2, dict(task='toy', cfg=dict(CFG, fail_rank=1)), timeout=20)
    assert '\n' not in str(e.value) and 'the others stopped with them' in str(e.value) and 'rank 0' not in str(e.value)


# The recipe's unfrozen phase on two processes (`ftbook finetune --nproc 2`)
import copy, json

import torch.nn as nn

from ftbook import distributed
from ftbook.cli import main
from ftbook.distributed import launch_tail
from ftbook.models import read_checkpoint
from ftbook.modality import Activations
from ftbook.image import ImageModel
from ftbook.tune import share_of_batch, train_tail
from ftbook.course import lookalike_folder


def _flat(*modules):
    return torch.cat([p.detach().flatten() for m in modules for p in m.parameters()])


@pytest.mark.parametrize('world', [1, 2, 3, 5])
def test_shares_cover_each_batch_once_and_weights_give_its_mean(world):
    for n in range(1, 12):
        shares = [share_of_batch(n, r, world) for r in range(world)]
        real = [p for p, w in shares if w]
        assert sorted(torch.cat(real).tolist()) == list(range(n))  # every input of the batch once, in some rank's share
        assert sum(w * len(p) for p, w in shares) / world == pytest.approx(1.0)  # DDP's mean of weighted sums = the batch mean


def test_the_tail_on_two_ranks_trains_as_in_one_process(capsys):
    "EfficientNet-Lite0's tail on 33 inputs in batches of 8: the last batch of one leaves rank 1 a share at weight 0."
    pre = ImageModel.start('auto')
    g = torch.Generator().manual_seed(0)
    a = Activations({'x': torch.randn(33, 192, 7, 7, generator=g).half()}, torch.randint(0, 3, (33,), generator=g), list(range(33)), [])
    head, state = nn.Linear(1280, 3), copy.deepcopy(pre.tail.state_dict())
    start, h1, losses = _flat(pre.tail, head), copy.deepcopy(head), []
    train_tail(pre, h1, a, 2, 1e-3, 8, seed=0, on_epoch=lambda e, total: losses.append(total / len(a)))
    one = _flat(pre.tail, h1)
    pre.tail.load_state_dict(state)
    r0 = launch_tail(pre, head, dict(train=a), [0], dict(epochs=2, lr=1e-3, bs=8), 2)[0]
    pre.tail.load_state_dict({k[5:]: v for k, v in r0.items() if k.startswith('tail.')})
    head.load_state_dict({k[5:]: v for k, v in r0.items() if k.startswith('head.')})
    two, out = _flat(pre.tail, head), capsys.readouterr().out
    # Equal up to rounding, and not trivially. Measured as norms: Adam divides each gradient by its own running size, so
    # for a parameter whose gradient is near zero, rounding (summation order differs between 1 and 2 processes) can flip
    # a step of size lr; a maximum over a million parameters would then measure the optimiser's amplification, not DDP.
    moved, diff = (one - start).norm().item(), (one - two).norm().item()
    assert moved > 0.1 and diff < moved / 30, (moved, diff)
    ranks_losses = [r0[f'0.loss.{e}'].item() for e in range(2)]  # all-reduced over the ranks' shares and weights
    # Within 1e-3: the same rounding, amplified by Adam, has moved these epoch means by up to 4.6e-4 (relative).
    assert ranks_losses == pytest.approx(losses, rel=1e-3), (ranks_losses, losses)
    assert 'tail epoch 2 of 2: mean training loss' in out  # rank 0's progress, shown as it came


def _photos(tmp_path):
    return lookalike_folder(tmp_path/'photos', ('cat', 'dog'), n_train=8, seed=0, size=(120, 90))


def test_a_dead_rank_ends_finetune_in_one_line_without_metrics(tmp_path, capsys, monkeypatch):
    real = distributed.run_ranks
    monkeypatch.setattr(distributed, 'run_ranks', lambda target, world, args, *a, **k: real(target, world, dict(args, fail_rank=1), *a, **k))
    out = tmp_path/'run'
    out.mkdir(); (out/'metrics.json').write_text('{"from": "an earlier run"}'); (out/'notes.txt').write_text('mine')
    rc = main(['finetune', str(_photos(tmp_path)), '--out', str(out), '--unfreeze', 'yes', '--nproc', '2', '--force'])
    err = capsys.readouterr().err
    assert rc == 2 and err.count('\n') == 1 and 'the unfrozen phase stopped' in err and 'stopped without saying why' in err, err
    assert not (out/'metrics.json').exists() and not (out/'report.md').exists()  # the old metrics described the replaced model
    assert (out/'notes.txt').read_text() == 'mine' and (out/'features.safetensors').exists()
    assert read_checkpoint(out/'model.safetensors')[0]['phase'] == 'head on frozen body'  # the head-only model, whole


def test_cifar8_recipe_refuses_nproc(tmp_path, capsys):
    rc = main(['finetune', str(_photos(tmp_path)), '--out', str(tmp_path/'run'), '--backbone', 'cifar8', '--nproc', '2'])
    assert rc == 2 and '--nproc' in capsys.readouterr().err and not (tmp_path/'run').exists()


def test_text_finetune_on_two_processes(tmp_path, capsys):
    from test_text import NEG, POS
    f = tmp_path/'reviews.csv'
    f.write_text('\n'.join(f'{t},pos' for t in POS) + '\n' + '\n'.join(f'{t},neg' for t in NEG) + '\n')
    rc = main(['finetune', str(f), '--out', str(tmp_path/'run'), '--unfreeze', 'yes', '--unfreeze-epochs', '2', '--nproc', '2',
               '--size', '16'])
    o = capsys.readouterr()
    assert rc == 0, o.err
    u = json.loads((tmp_path/'run'/'metrics.json').read_text())['unfreeze']
    assert u['ran'] and 'on 2 processes' in u['why'] and 'tail epoch 2 of 2' in o.out


def test_a_rank_that_hangs_is_caught_by_the_group_timeout():
    # limit: the whole launch's bound, well above the 5-s group timeout plus two ranks' start-up (over 10 s on a loaded machine)
    with pytest.raises(DistributedError, match='rank 1 of 2 stopped answering: the others timed out waiting for it') as e:
        run_ranks('ftbook.distributed:ddp_check', 2, dict(task='toy', cfg=dict(CFG, hang_rank=1)), timeout=5, limit=120)
    assert '\n' not in str(e.value)
