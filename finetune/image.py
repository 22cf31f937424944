"""Train, save and load an image classifier: EfficientNet-Lite0 fine-tuned on a folder of photos.

Input: a folder or ``.zip`` with one sub-folder per class (``Banana/*.jpg``, ``Lemon/*.jpg``), or
with ``train/`` and ``val/`` folders that each hold the class folders. At least
:attr:`ImageTrainConfig.min_per_class` usable photos per class; damaged files are listed and skipped.

Training runs in two stages, the usual transfer-learning recipe:

1. a new head on the frozen backbone. The frozen part of the network runs ONCE per photo
   (and per augmented variant: a mirror image and a closer crop), its output is cached, and the
   head trains on the cache in well under a second per epoch;
2. the top :attr:`ImageTrainConfig.unfreeze_blocks` blocks are unfrozen and trained with a 10x lower
   learning rate on the same cache, batch-norm kept in inference mode (its running statistics,
   learnt on ImageNet, are not overwritten by a few hundred photos).

Both stages stop early on the validation loss and keep their best epoch. The model folder gets
``model.safetensors``, ``config.json`` (``id2label``, preprocessing), ``metrics.json`` (curves,
confusion matrix, misclassified photos as thumbnails), ``training_args.json`` and a ``README.md``
model card, written to a temp folder and renamed into place; ``catalog_model.json`` comes last.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from finetune import effnet
from finetune.jobs import Cancelled, Progress, ProgressFn
from finetune.predict import Prediction
from finetune.registry import ModelInfo, model_path, read_info, validate_model_name, write_info
from rag.errors import DataValidationError, FineTuneError, ToolInputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from rag.settings import Settings

logger = logging.getLogger(__name__)

BASE = effnet.ARCH
VAL_DIRS = ("val", "valid", "validation", "test")
MAX_ZIP_BYTES = 2_000_000_000  # uncompressed
MAX_ZIP_FILES = 50_000
MAX_THUMBNAILS = 60
VARIANTS = ("center", "flip", "zoom")  # light augmentation: each variant of a photo is cached once


@dataclass
class ImageTrainConfig:
    """Hyper-parameters; the defaults reach >= 95% on grocery_4class in about a minute on 2 cores."""

    min_per_class: int = 5
    val_fraction: float = 0.2  # stratified, when no val/ folder is given
    unfreeze_blocks: int = 2  # top MBConv blocks trained in stage 2 (of 16), plus the head conv
    stage1_epochs: int = 80
    stage1_lr: float = 1e-3
    stage2_epochs: int = 6
    lr_ratio: float = 0.1  # stage 2 learning rate = stage1_lr * lr_ratio
    patience: int = 6  # epochs without a better validation loss before stopping (stage 2: half)
    batch_size: int = 32
    weight_decay: float = 1e-4
    dropout: float = 0.2
    augment: tuple[str, ...] = ("flip",)  # extra variants of each training photo: "flip", "zoom" (a closer crop)
    seed: int = 0
    threads: int | None = None  # torch threads for the convolutions (default: settings.n_threads)
    max_images_per_class: int | None = None  # cap for quick runs and tests

    def __post_init__(self) -> None:
        if self.min_per_class < 2:
            raise FineTuneError(f"min_per_class must be at least 2, got {self.min_per_class}.")
        if not 0 < self.val_fraction < 0.9:
            raise FineTuneError(f"val_fraction must be between 0 and 0.9, got {self.val_fraction}.")
        if not 1 <= self.unfreeze_blocks <= 16:
            raise FineTuneError(f"unfreeze_blocks must be between 1 and 16, got {self.unfreeze_blocks}.")
        if self.stage1_epochs < 1 or self.stage2_epochs < 0:
            raise FineTuneError("stage1_epochs must be >= 1 and stage2_epochs >= 0.")
        self.augment = tuple(self.augment)
        unknown = sorted(set(self.augment) - set(VARIANTS[1:]))
        if unknown:
            raise FineTuneError(f"Unknown augmentation {unknown}: use any of {list(VARIANTS[1:])}.")


# --------------------------------------------------------------------------- the data
@dataclass
class ImageDataset:
    """The photos found in a folder: class names and (path, class index) pairs."""

    root: Path
    classes: list[str]
    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]] | None  # None: split from train
    ignored: list[str] = field(default_factory=list)  # files that are not photos (by extension)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per class: how many photos for training and validation (before damaged ones are skipped)."""
        out = {c: {"train": 0, "val": 0} for c in self.classes}
        for split, items in (("train", self.train), ("val", self.val or [])):
            for _, y in items:
                out[self.classes[y]][split] += 1
        return out


def _visible(path: Path | str) -> bool:
    name = path if isinstance(path, str) else path.name
    return not name.startswith((".", "__MACOSX"))


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and _visible(p))


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and all(_visible(q) for q in p.relative_to(path).parts))


def scan_folder(folder: Path, *, label: str | None = None) -> ImageDataset:
    """Find the class folders (and a train/val split if there is one) under ``folder``."""
    label = label or str(folder)
    root = folder
    while True:  # a zip of "photos/" holds one folder that holds the classes
        subs = _subdirs(root)
        if len(subs) == 1 and not any(p.is_file() and _visible(p) for p in root.iterdir()):
            root = subs[0]
        else:
            break
    names = {p.name.lower(): p for p in _subdirs(root)}
    train_root, val_root = root, None
    if "train" in names:
        train_root = names["train"]
        val_root = next((names[v] for v in VAL_DIRS if v in names), None)
    class_dirs = _subdirs(train_root)
    loose = [p.name for p in train_root.iterdir() if p.is_file() and _visible(p)]
    if len(class_dirs) < 2:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise DataValidationError(
            f"{label}: an image classifier needs at least 2 classes, one sub-folder per class "
            f"(for example Banana/*.jpg and Lemon/*.jpg); found {len(class_dirs)} ({found}).",
            [f"{label}: put each class's photos in its own sub-folder."],
        )
    classes = [p.name for p in class_dirs]
    ignored = [f"{train_root.name}/{n}" for n in loose]

    def collect(base: Path) -> list[tuple[Path, int]]:
        items: list[tuple[Path, int]] = []
        for y, cls in enumerate(classes):
            d = base / cls
            if not d.is_dir():
                continue
            for f in _files(d):
                if f.suffix.lower() in effnet.IMAGE_EXTENSIONS:
                    items.append((f, y))
                else:
                    ignored.append(str(f.relative_to(root)))
        return items

    train = collect(train_root)
    val = None
    if val_root is not None:
        extra = sorted({p.name for p in _subdirs(val_root)} - set(classes))
        if extra:
            raise DataValidationError(
                f"{label}: the {val_root.name}/ folder has classes that train/ does not: {', '.join(extra)}.",
                [f"{val_root.name}/{c}: no such class in train/ (rename or remove it)" for c in extra],
            )
        val = collect(val_root)
    return ImageDataset(root=root, classes=classes, train=train, val=val, ignored=ignored)


def extract_zip(path: Path, target: Path) -> None:
    """Unpack a zip of photos safely: no absolute paths or '..', no links, bounded size and count."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_FILES:
                raise DataValidationError(
                    f"{path.name}: the zip holds {len(members)} files; the limit is {MAX_ZIP_FILES}. Split it.")
            total = sum(m.file_size for m in members)
            if total > MAX_ZIP_BYTES:
                raise DataValidationError(
                    f"{path.name}: the zip unpacks to {total / 1e9:.1f} GB; the limit is {MAX_ZIP_BYTES / 1e9:.0f} GB.")
            for m in members:
                parts = Path(m.filename.replace("\\", "/")).parts
                if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataValidationError(
                        f"{path.name}: unsafe path inside the zip ({m.filename!r}); refusing to unpack it.")
                if (m.external_attr >> 16) & 0o170000 == 0o120000:  # a symbolic link
                    logger.warning("%s: skipping the link %s", path.name, m.filename)
                    continue
                if m.is_dir():
                    continue
                dest = target.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile:
        raise DataValidationError(f"{path.name}: not a valid zip file (damaged or another format).") from None


def check_counts(classes: list[str], counts: Counter, minimum: int, label: str) -> None:
    problems = [
        f"Class '{cls}' has {counts.get(y, 0)} usable photo{'s' if counts.get(y, 0) != 1 else ''}; "
        f"at least {minimum} per class are needed (add {minimum - counts.get(y, 0)} more)."
        for y, cls in enumerate(classes) if counts.get(y, 0) < minimum
    ]
    if problems:
        raise DataValidationError(f"{label}: {len(problems)} class(es) have too few photos. " + " ".join(problems),
                                  problems)


# --------------------------------------------------------------------------- the network, split in two
class _Split:
    """EfficientNet-Lite0 cut before its top blocks: a frozen ``lower`` part and a trainable ``upper``."""

    def __init__(self, model: torch.nn.Module, unfreeze_blocks: int) -> None:
        self.model = model
        self.cut = len(model._blocks) - unfreeze_blocks
        self.n_blocks = len(model._blocks)

    def lower(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m._swish(m._bn0(m._conv_stem(x)))
        for block in m._blocks[: self.cut]:
            x = block(x)  # eval mode: no drop-connect
        return x

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        for block in m._blocks[self.cut :]:
            x = block(x)
        x = m._swish(m._bn1(m._conv_head(x)))
        return m._avg_pooling(x).flatten(1)

    def upper_parameters(self) -> list[torch.nn.Parameter]:
        """Trainable in stage 2: the top blocks and the head conv, except batch-norm (kept as on ImageNet)."""
        import torch

        m = self.model
        params = []
        for module in [*m._blocks[self.cut :], m._conv_head]:
            for sub in module.modules():
                if isinstance(sub, torch.nn.BatchNorm2d):
                    continue
                params.extend(p for p in sub.parameters(recurse=False))
        return params


def _variants(image, augment: tuple[str, ...]) -> list:
    """The centre crop, then the requested augmented variants (mirror image, closer crop)."""
    from PIL import ImageOps

    base = effnet.resize_crop(image)
    out = [base]
    if "flip" in augment:
        out.append(ImageOps.mirror(base))
    if "zoom" in augment:
        out.append(effnet.resize_crop(image, resize=int(effnet.RESIZE * 1.15)))
    return out


# --------------------------------------------------------------------------- training
def train_image_classifier(
    source: str | Path,
    *,
    name: str,
    settings: Settings,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    store: str | None = None,
    val_source: str | Path | None = None,
    config: ImageTrainConfig | None = None,
) -> ModelInfo:
    """Train and save an image classifier from a folder or zip of photos; returns its registry entry.

    Args:
        source: a folder or ``.zip`` with one sub-folder per class (or ``train/`` + ``val/`` folders).
        name: the model's name in the registry (letters, digits, ``.-_``).
        settings: where models are saved (``settings.finetuned_models_dir``).
        progress: called with :class:`~finetune.jobs.Progress` events (stages ``scan``, ``features``,
            ``stage 1``, ``stage 2``, ``evaluate``, ``save``).
        cancel: set it to stop between batches (raises :class:`~finetune.jobs.Cancelled`, nothing saved).
        store: the catalog store whose rows the classes are (the photo tool uses the model for it).
        val_source: a separate folder/zip of validation photos, same class folders.
        config: hyper-parameters (defaults: :class:`ImageTrainConfig`).

    Raises:
        DataValidationError: too few classes or photos per class (naming each class and its count).
        FineTuneError: the source does not exist or cannot be read.
    """
    validate_model_name(name)
    cfg = config or ImageTrainConfig()
    emit = progress or (lambda _event: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="catalog-image-") as tmp:
        data = _load_source(Path(source), Path(tmp) / "data")
        if val_source is not None:
            val_data = _load_source(Path(val_source), Path(tmp) / "val")
            missing = sorted(set(val_data.classes) - set(data.classes))
            if missing:
                raise DataValidationError(f"{val_source}: classes not in the training photos: {', '.join(missing)}.",
                                          [f"{c}: unknown class" for c in missing])
            remap = [data.classes.index(c) for c in val_data.classes]
            data.val = [(p, remap[y]) for p, y in val_data.train + (val_data.val or [])]
        if cfg.max_images_per_class:
            data.train = _cap(data.train, cfg.max_images_per_class, cfg.seed)
            if data.val is not None:
                data.val = _cap(data.val, cfg.max_images_per_class, cfg.seed)
        label = Path(source).name
        # cheap check before decoding anything: the file list alone already says "too few"
        check_counts(data.classes, Counter(y for _, y in data.train + (data.val or [])), cfg.min_per_class, label)
        emit(Progress("scan", message=f"{len(data.classes)} classes, {len(data.train) + len(data.val or [])} photos"))
        return _train(data, cfg, name=name, settings=settings, store=store, emit=emit, cancel=cancel,
                      label=label, started=started)


def _cap(items: list[tuple[Path, int]], cap: int, seed: int) -> list[tuple[Path, int]]:
    rng = random.Random(seed)
    out: list[tuple[Path, int]] = []
    for y in sorted({y for _, y in items}):
        mine = [it for it in items if it[1] == y]
        rng.shuffle(mine)
        out.extend(sorted(mine[:cap]))
    return out


def _load_source(source: Path, tmp: Path) -> ImageDataset:
    if not source.exists():
        raise FineTuneError(f"{source}: not found. Give a folder with one sub-folder per class, or a .zip of it.")
    if source.is_file():
        if source.suffix.lower() != ".zip" and not zipfile.is_zipfile(source):
            raise DataValidationError(
                f"{source.name}: expected a folder or a .zip of photos (one sub-folder per class), got a file.")
        tmp.mkdir(parents=True)
        extract_zip(source, tmp)
        return scan_folder(tmp, label=source.name)
    return scan_folder(source)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Training cancelled; nothing was saved.")


def _train(data: ImageDataset, cfg: ImageTrainConfig, **kwargs: Any) -> ModelInfo:
    """Run the training with the configured torch threads, restoring the process's setting after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or kwargs["settings"].n_threads)
    try:
        return _train_steps(data, cfg, **kwargs)
    finally:
        torch.set_num_threads(before)


def _train_steps(data: ImageDataset, cfg: ImageTrainConfig, *, name: str, settings: Settings, store: str | None,
                 emit: ProgressFn, cancel: threading.Event | None, label: str, started: float) -> ModelInfo:
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    k = len(data.classes)
    model = effnet.build_model(num_classes=k)
    net = _Split(model, cfg.unfreeze_blocks)

    # 1. decode every photo once, run the frozen part once per variant, cache its output
    items = [(p, y, "train") for p, y in data.train] + [(p, y, "val") for p, y in data.val or []]
    cache: list[torch.Tensor] = []  # per item: (variants, C, 7, 7)
    usable: list[tuple[Path, int, str]] = []
    skipped: list[dict[str, str]] = []
    thumbs: dict[int, Any] = {}
    batch_arrays: list[np.ndarray] = []
    batch_counts: list[int] = []
    t_features = time.perf_counter()

    def flush() -> None:
        if not batch_arrays:
            return
        with torch.inference_mode():
            out = net.lower(effnet.to_batch(batch_arrays))
        pos = 0
        for n in batch_counts:
            cache.append(out[pos : pos + n].clone())
            pos += n
        batch_arrays.clear()
        batch_counts.clear()

    for i, (path, y, split) in enumerate(items):
        _check_cancel(cancel)
        try:
            image = effnet.open_image(path, name=str(path.relative_to(data.root)))
        except ToolInputError as exc:
            skipped.append({"file": str(path.relative_to(data.root)), "reason": str(exc)})
            continue
        variants = _variants(image, cfg.augment if split == "train" else ())
        if split == "val":
            thumbs[len(usable)] = _thumbnail(image)
        usable.append((path, y, split))
        batch_arrays.extend(effnet.to_array(v) for v in variants)
        batch_counts.append(len(variants))
        if len(batch_arrays) >= cfg.batch_size:
            flush()
        emit(Progress("features", step=i + 1, total_steps=len(items), message=f"{path.name}"))
    flush()
    if skipped:
        logger.warning("%s: skipped %d unreadable photo(s)", label, len(skipped))

    ys = np.array([y for _, y, _ in usable])
    check_counts(data.classes, Counter(ys.tolist()), cfg.min_per_class, label)
    train_idx, val_idx = _split(usable, ys, cfg, k)

    # 2. stage 1: the head on pooled features of the frozen network
    with torch.inference_mode():
        pooled = [net.pooled(c) for c in cache]
    features_s = time.perf_counter() - t_features
    head = model._fc
    dropout = torch.nn.Dropout(cfg.dropout)

    def stage1_batches(idx: np.ndarray):
        xs = torch.cat([pooled[i] for i in idx])
        y = torch.tensor(np.repeat(ys[idx], [len(pooled[i]) for i in idx]))
        return xs, y

    x_tr, y_tr = stage1_batches(train_idx)
    x_va = torch.cat([pooled[i][:1] for i in val_idx])
    y_va = torch.tensor(ys[val_idx])
    curves: dict[str, list[dict[str, float]]] = {"stage 1": [], "stage 2": []}
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.stage1_lr, weight_decay=cfg.weight_decay)
    t1 = time.perf_counter()

    def run_stage1_epoch() -> float:
        head.train()
        perm = torch.from_numpy(rng.permutation(len(x_tr)))
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            b = perm[s : s + cfg.batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(dropout(x_tr[b])), y_tr[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
        head.eval()
        return total / len(perm)

    def val_stage1() -> tuple[float, float]:
        with torch.no_grad():
            logits = head(x_va)
        return float(torch.nn.functional.cross_entropy(logits, y_va)), float((logits.argmax(1) == y_va).float().mean())

    dropout.train()
    conv_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrix products: extra threads only add synchronisation (10-100x slower)
    try:
        _fit("stage 1", cfg.stage1_epochs, cfg.patience, run_stage1_epoch, val_stage1, [head], curves, emit, cancel)
    finally:
        torch.set_num_threads(conv_threads)
    stage1_s = time.perf_counter() - t1

    # 3. stage 2: unfreeze the top blocks, 10x lower learning rate, batch-norm stays in eval mode
    t2 = time.perf_counter()
    model.eval()
    upper = net.upper_parameters()
    for p in model.parameters():
        p.requires_grad_(False)
    for p in [*upper, *head.parameters()]:
        p.requires_grad_(True)
    opt2 = torch.optim.AdamW([*upper, *head.parameters()], lr=cfg.stage1_lr * cfg.lr_ratio,
                             weight_decay=cfg.weight_decay)
    acts_va = torch.cat([cache[i][:1] for i in val_idx])

    def run_stage2_epoch() -> float:
        """Each training photo once, in a randomly chosen cached variant (augmentation at no extra cost)."""
        perm = rng.permutation(train_idx)
        total = 0.0
        for s in range(0, len(perm), cfg.batch_size):
            _check_cancel(cancel)
            b = perm[s : s + cfg.batch_size]
            x = torch.stack([cache[i][int(rng.integers(len(cache[i])))] for i in b])
            opt2.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(dropout(net.pooled(x))), torch.from_numpy(ys[b]))
            loss.backward()
            opt2.step()
            total += loss.item() * len(b)
        return total / len(perm)

    def val_stage2() -> tuple[float, float]:
        with torch.no_grad():
            logits = head(net.pooled(acts_va))
        return float(torch.nn.functional.cross_entropy(logits, y_va)), float((logits.argmax(1) == y_va).float().mean())

    if cfg.stage2_epochs:
        _fit("stage 2", cfg.stage2_epochs, max(2, cfg.patience // 2), run_stage2_epoch, val_stage2,
             [model], curves, emit, cancel, baseline=val_stage2())
    stage2_s = time.perf_counter() - t2
    for p in model.parameters():
        p.requires_grad_(False)

    # 4. evaluate on the validation photos
    emit(Progress("evaluate", message=f"{len(val_idx)} validation photos"))
    with torch.no_grad():
        probs = torch.softmax(head(net.pooled(acts_va)), dim=1).numpy()
    report = _evaluate(data, usable, val_idx, ys, probs)
    report.update({
        "train_images": len(train_idx), "val_images": len(val_idx),
        "val_from": "folder" if data.val is not None else f"stratified {cfg.val_fraction:.0%} split",
        "skipped": skipped, "ignored": data.ignored[:200],
        "class_counts": {c: {"train": int((ys[train_idx] == y).sum()), "val": int((ys[val_idx] == y).sum())}
                         for y, c in enumerate(data.classes)},
        "curves": curves,
        "timings_s": {"features": round(features_s, 1), "stage 1": round(stage1_s, 1), "stage 2": round(stage2_s, 1)},
    })
    _check_cancel(cancel)

    # 5. save: temp folder, rename into place, registry file last
    emit(Progress("save", message=f"saving {name}"))
    report["train_s"] = round(time.perf_counter() - started, 1)
    return _save(model, data.classes, report, cfg, thumbs, val_idx, name=name, settings=settings, store=store,
                 source_label=label)


def _split(usable: list[tuple[Path, int, str]], ys: np.ndarray, cfg: ImageTrainConfig, k: int):
    has_val_folder = any(s == "val" for _, _, s in usable)
    if has_val_folder:
        train_idx = np.array([i for i, (_, _, s) in enumerate(usable) if s == "train"])
        val_idx = np.array([i for i, (_, _, s) in enumerate(usable) if s == "val"])
        return train_idx, val_idx
    from sklearn.model_selection import train_test_split

    n_val = max(k, math.ceil(cfg.val_fraction * len(ys)))
    train_idx, val_idx = train_test_split(np.arange(len(ys)), test_size=n_val, stratify=ys, random_state=cfg.seed)
    return np.sort(train_idx), np.sort(val_idx)


def _fit(stage: str, epochs: int, patience: int, run_epoch, validate, modules: list, curves: dict, emit: ProgressFn,
         cancel: threading.Event | None, baseline: tuple[float, float] | None = None) -> None:
    """Epochs until the validation loss stops improving for ``patience`` epochs; restores the best weights."""
    best_loss = baseline[0] if baseline else math.inf
    best_state = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules] if baseline else None
    waited = 0
    for epoch in range(1, epochs + 1):
        _check_cancel(cancel)
        loss = run_epoch()
        val_loss, val_acc = validate()
        curves[stage].append({"epoch": epoch, "loss": round(loss, 5), "val_loss": round(val_loss, 5),
                              "val_accuracy": round(val_acc, 4)})
        emit(Progress(stage, step=epoch, total_steps=epochs, epoch=epoch, loss=loss, val_loss=val_loss,
                      message=f"validation accuracy {val_acc:.0%}"))
        if val_loss < best_loss - 1e-4:
            best_loss, waited = val_loss, 0
            best_state = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]
        else:
            waited += 1
            if waited >= patience:
                break
    if best_state is not None:
        for m, state in zip(modules, best_state, strict=True):
            m.load_state_dict(state)


def _evaluate(data: ImageDataset, usable, val_idx: np.ndarray, ys: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    k = len(data.classes)
    y_true = ys[val_idx]
    y_pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
    misclassified = []
    for j, (t, pr) in enumerate(zip(y_true, y_pred, strict=True)):
        if t != pr:
            path = usable[val_idx[j]][0]
            misclassified.append({"file": str(path.relative_to(data.root)), "true": data.classes[t],
                                  "predicted": data.classes[pr], "score": round(float(probs[j, pr]), 4),
                                  "index": int(j)})
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro", labels=list(range(k)), zero_division=0)), 4),
        "per_class": {c: {"precision": round(float(p[y]), 4), "recall": round(float(r[y]), 4),
                          "f1": round(float(f[y]), 4), "support": int(s[y])} for y, c in enumerate(data.classes)},
        "labels": list(data.classes),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
        "misclassified": misclassified,
    }


def _thumbnail(image):
    thumb = image.copy()
    thumb.thumbnail((256, 256))
    return thumb


# --------------------------------------------------------------------------- saving
def _save(model, classes: list[str], report: dict[str, Any], cfg: ImageTrainConfig, thumbs: dict[int, Any],
          val_idx: np.ndarray, *, name: str, settings: Settings, store: str | None, source_label: str) -> ModelInfo:
    from safetensors.torch import save_file

    target = model_path(settings, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
        (tmp / "misclassified").mkdir()
        for n, item in enumerate(report["misclassified"][:MAX_THUMBNAILS]):
            thumb = thumbs.get(int(val_idx[item["index"]]))
            if thumb is not None:
                rel = f"misclassified/{n:03d}.jpg"
                thumb.save(tmp / rel, quality=85)
                item["thumbnail"] = rel
        config = {
            "architecture": BASE,
            "num_classes": len(classes),
            "id2label": {str(i): c for i, c in enumerate(classes)},
            "label2id": {c: i for i, c in enumerate(classes)},
            "preprocessing": {"exif_transpose": True, "mode": "RGB", "resize_shorter_side": effnet.RESIZE,
                              "center_crop": effnet.IMAGE_SIZE, "scale": "x/255", "mean": list(effnet.MEAN),
                              "std": list(effnet.STD)},
            "base_weights": {"package": effnet.WEIGHTS_PIP, "sha256": effnet.WEIGHTS_SHA256},
            "store": store,
        }
        _write_json(tmp / "config.json", config)
        _write_json(tmp / "metrics.json", report)
        _write_json(tmp / "training_args.json", asdict(cfg))
        created = datetime.now(UTC).isoformat(timespec="seconds")
        summary = {k: report[k] for k in ("accuracy", "macro_f1", "per_class", "train_images", "val_images")}
        summary.update(n_train=report["train_images"], n_val=report["val_images"],  # same keys as text models
                       skipped=len(report["skipped"]))
        (tmp / "README.md").write_text(model_card(name, classes, report, cfg, store, source_label, created),
                                       encoding="utf-8")
        old = None
        if target.exists():
            old = target.parent / f".{name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = ModelInfo(name=name, kind="image", base=BASE, labels=tuple(classes), metrics=summary, created=created,
                     store=store, dir=target)
    write_info(info)
    logger.info("saved image classifier %s to %s (accuracy %.3f)", name, target, report["accuracy"])
    return info


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def load_report(info: ModelInfo) -> dict[str, Any]:
    """The full evaluation saved with a model: curves, confusion matrix, misclassified photos."""
    path = Path(info.dir) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FineTuneError(f"{path}: cannot read the saved evaluation ({exc}).") from None


def model_card(name: str, classes: list[str], report: dict[str, Any], cfg: ImageTrainConfig, store: str | None,
               source: str, created: str) -> str:
    """README.md with Hugging Face-style YAML metadata, then what a person needs to trust the model."""
    import PIL
    import safetensors
    import sklearn
    import torch
    import yaml

    meta = {
        "library_name": "pytorch",
        "pipeline_tag": "image-classification",
        "tags": ["image-classification", "efficientnet-lite0", "transfer-learning", "catalog-assistant"],
        "base_model": f"{BASE} (ImageNet-1k, {effnet.WEIGHTS_PIP})",
        "datasets": [source],
        "metrics": ["accuracy", "f1"],
        "model-index": [{"name": name, "results": [{
            "task": {"type": "image-classification"},
            "dataset": {"name": source, "type": "imagefolder", "split": "validation"},
            "metrics": [{"type": "accuracy", "value": report["accuracy"]},
                        {"type": "f1", "name": "macro-F1", "value": report["macro_f1"]}]}]}],
    }
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", "",
             f"# {name}", "",
             f"An image classifier for {len(classes)} classes, fine-tuned from **{BASE}** (ImageNet weights from "
             f"`{effnet.WEIGHTS_PIP}`) on `{source}`{f' for the store `{store}`' if store else ''}. Created {created}.",
             "", "## Classes", "", "| id | label | train photos | validation photos | validation recall |",
             "|---:|---|---:|---:|---:|"]
    for i, c in enumerate(classes):
        counts = report["class_counts"][c]
        lines.append(f"| {i} | {c} | {counts['train']} | {counts['val']} | {report['per_class'][c]['recall']:.2f} |")
    lines += ["", "## Evaluation", "",
              f"On {report['val_images']} validation photos ({report['val_from']}), trained on "
              f"{report['train_images']}: accuracy **{report['accuracy']:.3f}**, "
              f"macro-F1 **{report['macro_f1']:.3f}**.",
              "", "| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for c, m in report["per_class"].items():
        lines.append(f"| {c} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |")
    lines += ["", "Confusion matrix (rows: true class, columns: predicted):", "",
              "| true \\ predicted | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for c, row in zip(classes, report["confusion_matrix"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    if report["misclassified"]:
        lines += ["", "Misclassified validation photos:", ""]
        lines += [f"- `{m['file']}`: {m['true']} predicted as {m['predicted']} ({m['score']:.2f})"
                  for m in report["misclassified"][:30]]
    if report["skipped"]:
        lines += ["", f"Skipped {len(report['skipped'])} unreadable file(s):", ""]
        lines += [f"- {s['reason']}" for s in report["skipped"][:30]]
    lines += ["", "## Training", "",
              "Two stages: (1) a new head on the frozen backbone, trained on cached features; (2) the top "
              f"{cfg.unfreeze_blocks} blocks unfrozen at a {1 / cfg.lr_ratio:.0f}x lower learning rate, batch-norm "
              "in inference mode. Early stopping on the validation loss; the best epoch is kept. Augmentation: "
              f"{', '.join(cfg.augment) or 'none'} (each variant cached once).", "",
              "| hyper-parameter | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in asdict(cfg).items()]
    for stage, rows in report["curves"].items():
        if rows:
            lines += ["", f"### {stage.capitalize()} (per epoch)", "", "| epoch | loss | val loss | val accuracy |",
                      "|---:|---:|---:|---:|"]
            lines += [f"| {r['epoch']} | {r['loss']:.4f} | {r['val_loss']:.4f} | {r['val_accuracy']:.3f} |"
                      for r in rows]
    parts = ", ".join(f"{k} {v} s" for k, v in report["timings_s"].items())
    lines += ["", f"Wall time {report['train_s']} s ({parts}).",
              "", "## Preprocessing", "",
              f"EXIF orientation applied, RGB, shorter side resized to {effnet.RESIZE}, centre crop "
              f"{effnet.IMAGE_SIZE}x{effnet.IMAGE_SIZE}, then (x/255 - 0.5) / 0.5.", "",
              "## Use", "", "```python", "from finetune.registry import get_model",
              "from finetune.image import load_image_classifier",
              "from rag.settings import load_settings",
              f"clf = load_image_classifier(get_model(load_settings(), '{name}'))",
              "clf.predict(['photo.jpg'])", "```", "",
              f"From the shell: `python -m finetune predict {name} photo.jpg`.", "",
              "## Framework versions", "",
              f"- Python {platform.python_version()}", f"- torch {torch.__version__}", f"- Pillow {PIL.__version__}",
              f"- safetensors {safetensors.__version__}", f"- scikit-learn {sklearn.__version__}",
              f"- {effnet.CODE_PIP}", f"- {effnet.WEIGHTS_PIP}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading & predicting
class ImageClassifier:
    """A saved image classifier, ready to predict (load once, reuse)."""

    def __init__(self, info: ModelInfo) -> None:
        from safetensors.torch import load_file

        self.info = info
        folder = Path(info.dir)
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            self.labels = [config["id2label"][str(i)] for i in range(int(config["num_classes"]))]
            state = load_file(str(folder / "model.safetensors"))
        except (OSError, ValueError, KeyError) as exc:
            raise FineTuneError(
                f"{folder}: the saved image classifier cannot be read ({exc}). Train it again.") from None
        self.model = effnet.build_architecture(len(self.labels))
        try:
            self.model.load_state_dict(state)
        except RuntimeError as exc:
            raise FineTuneError(f"{folder}/model.safetensors does not match its config ({exc}).") from None
        self.model.eval()

    def predict(self, inputs: list[Any], *, all_scores: bool = False, batch_size: int = 16) -> list[Prediction]:
        """Paths, bytes, file objects or PIL images -> one Prediction each (ToolInputError names a bad file)."""
        import torch

        out: list[Prediction] = []
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start : start + batch_size]
            arrays = [effnet.preprocess(effnet.open_image(x)) for x in chunk]
            with torch.inference_mode():
                probs = torch.softmax(self.model(effnet.to_batch(arrays)), dim=1).numpy()
            for row in probs:
                best = int(row.argmax())
                scores = {lab: float(p) for lab, p in zip(self.labels, row, strict=True)} if all_scores else None
                out.append(Prediction(label=self.labels[best], score=float(row[best]), scores=scores))
        return out


def load_image_classifier(info: ModelInfo) -> ImageClassifier:
    """The saved model of ``info`` (kind ``image``) ready to predict."""
    if info.kind != "image":
        raise FineTuneError(f"{info.name} is a {info.kind} classifier, not an image classifier.")
    return ImageClassifier(info)


def load_by_dir(model_dir: Path) -> ImageClassifier:
    return load_image_classifier(read_info(model_dir))
