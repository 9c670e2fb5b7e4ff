"""The source of the packaged scarce study's top-level functions, as they ran when it was recorded (chapter 06).

A record, not code to call: written by `ftbook.finetune.freeze_study_code` when the study is packaged (`make scarce`),
never edited by hand, and left out of nbdev's index. `recorded_study_code_sha` hashes this text, and chapter 06 checks it
against the `code_sha256` kept in the packaged study, so the record stays valid while the live functions change. Chapter
06 guards the live code instead by training one seed of the study again under the pinned numerics and comparing each run
with the packaged one. Nothing here imports the names these functions call, so nothing here breaks when they move.
"""
from __future__ import annotations
# Do not edit: the text below is hashed into the packaged study's code_sha256.

def run_scarce_study(backbone: nn.Module, target_train: ImageSet, target_test: ImageSet, cfg: dict, chosen: dict, mean, std,
                     seeds, draws: int, skip=()) -> list:
    "The 'scarce' protocol on `seeds`: both strategies at the largest N and on `draws` disjoint draws at the smallest."
    # skip: the (seed, N, draw) triples already run elsewhere (the pilot's in the table)
    lo, hi, out = min(cfg['ns']), max(cfg['ns']), []
    feats = test_features_of(backbone, dict(test=target_test), mean, std)
    for seed in _progress(seeds):
        big = nested_labels(target_train, [hi], seed)[hi]
        for n, j, labels in [(hi, 0, big)] + [(lo, j, d) for j, d in enumerate(disjoint_draws(big, lo, draws, seed))]:
            if (seed, n, j) in skip: continue
            for name in SCARCE_STRATEGIES:
                r = run_finetune(name, backbone, labels, target_test, cfg['epochs'][n], chosen[name], seed=seed + 1000 * j,
                                 bs=cfg['bs'], mean=mean, std=std, cache=True, test_features=feats)
                out.append(dict(variant='scarce', strategy=name, n=n, seed=seed, draw=j, accuracy=r['accuracy']))
    return out

def nested_labels(train: ImageSet, ns, seed: int) -> dict:
    "{N: labels per class} drawn with `seed`, each smaller draw taken from inside the next larger one (paired across N)."
    out, pool = {}, train
    for n in sorted(ns, reverse=True): pool = out[n] = sample_per_class(pool, n, seed=seed)
    return out

def disjoint_draws(pool: ImageSet, n: int, k: int, seed: int) -> list:
    "`k` draws of `n` labels per class from `pool` that share no image; the first is `sample_per_class(pool, n, seed)`."
    g, perms = torch.Generator().manual_seed(seed), []
    for c, name in enumerate(pool.classes):
        idx = torch.nonzero(pool.y == c).flatten()
        if len(idx) < n * k: raise ValueError(f"class {name!r} has {len(idx)} images, fewer than {k} draws of {n}")
        perms.append(idx[torch.randperm(len(idx), generator=g)])
    return [pool.subset(torch.cat([p[j * n:(j + 1) * n] for p in perms]).sort().values) for j in range(k)]

def run_finetune(strategy: str, backbone: nn.Module, labels: ImageSet, test: ImageSet, epochs: int, lr: float, seed: int = 0,
                 bs: int = 64, mean=None, std=None, augment: bool = True, pad: int = 4, valid: ImageSet = None, device=None,
                 shifted: dict = None, reestimate: bool = False, cache: bool = False, test_features: dict = None, **kw) -> dict:
    "Fine-tune `backbone` on `labels` with `strategy`; score on `test` (and each `shifted` set); accuracy, history, model."
    set_seed(seed)
    if strategy == 'from scratch':
        model = ResNet(**{k: v for k, v in backbone.config.items() if k != 'arch'} | dict(n_classes=len(labels.classes)))
        mean, std = channel_stats(labels.x)
    else: model = new_head(backbone, len(labels.classes))
    device = torch.device(device or default_device())
    model = model.to(device)
    train = Batches(labels, min(bs, len(labels)), shuffle=True, augment=augment, pad=pad, mean=mean, std=std, device=device, seed=seed)
    val = Batches(valid, 1000, mean=mean, std=std, device=device) if valid is not None else None
    if reestimate: reestimate_bn(model, plain_batches(train))
    t0 = time.perf_counter()
    if cache and 'cache' in inspect.signature(STRATEGIES[strategy]).parameters: kw = dict(kw, cache=True)
    hist = STRATEGIES[strategy](model, train, epochs, lr, val, **kw)
    seconds, acc, pred = time.perf_counter() - t0, None, None
    frozen = test_features if test_features and _same_body(model, backbone) else {}
    def score(ds, name='test'):
        if name in frozen:
            with torch.no_grad(): return model.eval().head(frozen[name]).float().cpu(), ds.y.cpu()
        return _scores(model, ds, mean, std, device)
    if test is not None:
        logits, ys = score(test)
        pred = logits.argmax(1)
        acc = (pred == ys).sum().item() / len(ys)
    shift_acc = {k: (lambda lg, y: (lg.argmax(1) == y).float().mean().item())(*score(ds, k)) for k, ds in (shifted or {}).items()}
    return dict(strategy=strategy, n=len(labels) // len(labels.classes), seed=seed, lr=lr, accuracy=acc, valid_acc=hist.last.get('valid_acc'),
                seconds=seconds, history=hist.rows, test_pred=None if pred is None else pred.tolist(), shift_acc=shift_acc,
                model=model)

def freeze_then_unfreeze(model, train, epochs, lr, valid=None, unfreeze_factor=0.1, cache: bool = False, **kw) -> History:
    "The articles' recipe: the head alone for a third of the budget, then everything at `lr * unfreeze_factor`."
    e1 = _head_epochs(epochs)
    h1 = linear_probe(model, train, e1, lr, valid, cache=cache, **kw)
    h2 = full_finetune(model, train, epochs - e1, lr * unfreeze_factor, valid, **kw) if epochs > e1 else History()
    return History(h1.rows + h2.rows)

def from_scratch(model, train, epochs, lr, valid=None, **kw) -> History:
    "Train every parameter (of a randomly initialised model)."
    unfreeze(model)
    return fit(model, train, epochs, lr, valid, **{'progress': False, **kw})

def fit_head_on_features(head: nn.Module, feats: torch.Tensor, train: Batches, epochs: int, lr: float, valid: tuple = None,
                         wd: float = 5e-4) -> History:
    "`fit` for a `head` alone on fixed features `feats` of `train`'s images: the same SGD, schedule, batch size and order."
    y, rows = train.y, []
    opt = make_optimizer([dict(params=list(head.parameters()), lr=lr)], 'sgd', wd)
    sched = one_cycle(opt, epochs * len(train))
    for epoch in range(epochs):
        t0, total, correct, n = time.perf_counter(), 0.0, 0, 0
        head.train()
        order = torch.randperm(len(y), generator=train.gen).to(y.device) if train.shuffle else torch.arange(len(y), device=y.device)
        for i in range(len(train)):
            idx = order[i * train.bs:(i + 1) * train.bs]
            out = head(feats[idx])
            loss = F.cross_entropy(out, y[idx])
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
            total += loss.item() * len(idx); correct += (out.argmax(1) == y[idx]).sum().item(); n += len(idx)
        row = dict(epoch=epoch + 1, train_loss=total / n, train_acc=correct / n, lr=opt.param_groups[-1]['lr'],
                   seconds=time.perf_counter() - t0)
        if valid is not None:
            with torch.no_grad(): out = head(valid[0])
            row.update(valid_loss=F.cross_entropy(out, valid[1]).item(), valid_acc=(out.argmax(1) == valid[1]).float().mean().item())
        rows.append(row)
    return History(rows)

def frozen_features(body: nn.Module, batches: Batches) -> torch.Tensor:
    "`extract_features` of `batches`' images (in order, unaugmented, evaluation mode), as a tensor on their device."
    ds = ImageSet(batches.x, batches.y, batches.classes)
    feats = extract_features(body, ds, batches.mean.flatten(), batches.std.flatten(), batches.device)
    return torch.from_numpy(feats).to(batches.device)

def fit(model: nn.Module, train, epochs: int, lr: float, valid=None, opt: str = 'sgd', wd: float = 5e-4,
        label_smoothing: float = 0.0, groups: list = None, pct_start: float = 0.25, loss_fn=None, batch_tfm=None,
        penalty=None, checkpoint=None, resume: bool = True, meta: dict = None, compile: bool = False,
        progress: bool = True, until: int = None) -> History:
    "Train `model` on `train` for `epochs` of a one-cycle schedule, or until epoch `until`; evaluate; checkpoint."
    device = train.device
    model.to(device).to(memory_format=torch.channels_last)
    loss_fn = loss_fn or (lambda out, y: F.cross_entropy(out, y, label_smoothing=label_smoothing))
    optimizer = make_optimizer(groups or [dict(params=list(model.parameters()), lr=lr)], opt, wd)
    sched = one_cycle(optimizer, epochs * len(train), pct_start)
    hist, start = History(), 0
    if checkpoint and resume and _ckpt_paths(checkpoint)[0].exists():
        start, hist = _resume(checkpoint, model, optimizer, sched, train)
    step_model = torch.compile(model) if compile else model
    epoch_range, bar, log = _progress(progress, range(start, min(until or epochs, epochs)))
    for epoch in epoch_range:
        t0 = time.perf_counter()
        train_loss, train_acc = _train_epoch(model, step_model, bar(train), device, optimizer, sched, loss_fn,
                                             batch_tfm, penalty)
        row = dict(epoch=epoch + 1, train_loss=train_loss, train_acc=train_acc,
                   lr=optimizer.param_groups[-1]['lr'], seconds=time.perf_counter() - t0)
        if valid is not None:
            v = evaluate(model, valid, loss_fn, batch_tfm)
            row.update(valid_loss=v['loss'], valid_acc=v['accuracy'])
        hist.rows.append(row)
        _log_row(log, row)
        if checkpoint: _save_progress(checkpoint, model, optimizer, train, hist, meta)
    return hist

STUDY_FUNCTIONS = (run_scarce_study, nested_labels, disjoint_draws, run_finetune, freeze_then_unfreeze, from_scratch, fit_head_on_features, frozen_features, fit)
