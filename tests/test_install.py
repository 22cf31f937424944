"""What run.sh installs: requirements.txt and constraints.txt name the same versions."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pins(path: Path) -> dict[str, str]:
    return {name.lower().replace("_", "-"): version for name, version in
            re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)", path.read_text(encoding="utf-8"), re.M)}


def test_constraints_pin_every_requirement_at_its_version():
    """A requirement bumped without `bash run.sh freeze` would make pip refuse the install, or test other versions."""
    locked = pins(ROOT / "constraints.txt")
    for req in ("requirements.txt", "requirements-dev.txt"):
        for name, version in pins(ROOT / req).items():
            assert locked.get(name) == version, f"{req} pins {name}=={version}, constraints.txt {locked.get(name)}"
    assert "openai" in pins(ROOT / "requirements.txt")  # Cloud reads only requirements.txt: the package that broke us
