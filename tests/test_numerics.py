"""Same numbers on every machine: the pins of chapter 01 are set everywhere the course computes numbers, and they hold.

Each check trains briefly in fresh Python processes (a switch acts only before torch starts). It fails when two pinned
processes disagree, or when a pinned process here does not reproduce the fingerprint the package ships for this
processor's vendor (MKL's pin holds within a vendor, not across), and it names the switch whose library computed
something else."""
import json, platform, re
from pathlib import Path

import pytest
import torch

from ftbook.data import (PINNED_NUMERICS, NumericsWarning, cpu_vendor, fingerprint_differences, fingerprint_in_process,
                         numerics_reference, unpinned_numerics)
from ftbook.models import backbone_dir

ROOT = Path(__file__).resolve().parents[1]
x86 = pytest.mark.skipif(platform.machine() not in ('x86_64', 'AMD64'), reason="the pins are x86-64 instruction sets")


def test_every_place_pins_the_same_values():
    make, ci = (ROOT/'Makefile').read_text(), (ROOT/'.ci/run').read_text()
    for k, v in PINNED_NUMERICS.items():
        assert re.search(rf'^{k} \?= {v}$', make, re.M), f"the Makefile does not set {k} ?= {v}"
        assert f'{k}={v}' in ci, f".ci/run does not export {k}={v}"
    assert re.search(r'ipykernel install .*\$\(foreach p,\$\(PINS\),--env \$\(p\) \$\(\$\(p\)\)\)', make), \
        "make install registers the ftbook kernel without the pins in its env"
    assert set(re.search(r'^PINS := (.*)$', make, re.M).group(1).split()) == set(PINNED_NUMERICS)


def test_this_run_is_pinned():
    "make test and .ci/run export the pins, so the process that runs the tests (and nbval's kernels) has them."
    assert not unpinned_numerics(), f"pytest runs without the pins: {unpinned_numerics()}; run it through make"


def test_unpinned_process_is_warned():
    code = ("import warnings, ftbook.data as d\nwith warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always'); d.set_seed(0); d.set_seed(1)\n"
            "print(sum(issubclass(x.category, d.NumericsWarning) for x in w))")
    import os, subprocess, sys
    env = {k: v for k, v in os.environ.items() if k != 'MKL_CBWR'}
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split()[-1] == '1', f"expected one NumericsWarning from two set_seed calls without MKL_CBWR, got {out!r}"
    assert issubclass(NumericsWarning, UserWarning)


@pytest.fixture(scope='module')
def pinned_pair():
    "Fingerprints of two fresh pinned processes, on the reference's thread count."
    return [fingerprint_in_process(PINNED_NUMERICS, 2) for _ in range(2)]


@x86
def test_two_pinned_processes_agree(pinned_pair):
    a, b = pinned_pair
    assert not fingerprint_differences(a, b), \
        f"two pinned processes computed different numbers; these differ (and the switch that governs each): " \
        f"{fingerprint_differences(a, b)}"


@x86
def test_pinned_process_reproduces_the_package_reference(pinned_pair):
    refs = json.loads((backbone_dir()/'numerics.json').read_text())
    if refs['torch'] != torch.__version__:
        pytest.skip(f"the reference was computed with torch {refs['torch']}, this is {torch.__version__}: "
                    "another build may bring other kernels; compute a new reference")
    assert (refs['pins'], refs['threads']) == (PINNED_NUMERICS, 2), "the reference was computed under other settings"
    ref = numerics_reference(refs)
    if ref is None:  # MKL's pin holds within a vendor, not across (chapter 01): a new vendor needs its own reference
        pytest.skip(f"numerics.json has no reference for a {cpu_vendor()} processor; add this machine's pinned "
                    f"fingerprint: {pinned_pair[0]}")
    diff = fingerprint_differences(pinned_pair[0], ref['fingerprint'])
    assert not diff, (f"pinned, this machine ({cpu_vendor()}, {torch.backends.cpu.get_cpu_capability()} capable) does not "
                      f"compute what the reference machine ({ref['made_on']}) computed; the pins did not hold for: {diff}")


def test_the_vendors_references_agree_on_onednn():
    "The measured finding chapter 01 states: oneDNN's pin holds across vendors (convolutions and their gradients agree)."
    import itertools
    refs = json.loads((backbone_dir()/'numerics.json').read_text())['references']
    assert len({r['vendor'] for r in refs}) == len(refs) >= 2, "one reference per vendor"
    for a, b in itertools.combinations(refs, 2):
        differ = fingerprint_differences(a['fingerprint'], b['fingerprint'])
        assert not {'convolution', 'convolution gradient'} & set(differ), (a['vendor'], b['vendor'], differ)
