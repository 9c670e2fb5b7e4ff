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
