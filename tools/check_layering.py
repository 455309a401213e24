#!/usr/bin/env python3
"""Checks the dependency rule of docs/architecture.md on every #include under src/labhouse.

- core/ includes only core/ and the C++ standard library.
- support/ and imaging/ include core/ and themselves (they are libraries adapters may share).
- an adapter includes core/, support/, imaging/, the engine libraries it wraps and itself: never
  another adapter, never app/.
- command-line front ends (any cli/ folder) are composition roots like app/.
- engine/, pix2pix/ and models/ are libraries of their own: core/ and themselves.
- only app/ (the composition root) includes adapters freely.
- torch headers appear only in .cpp files or internal headers of engine/ and pix2pix/.
Exits 1 and lists every violation.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
SHARED_LIBS = {"core", "support", "imaging"}
# Native libraries that a Transformer adapter wraps.
ENGINE_LIBS = {"engine", "pix2pix", "models"}


def area_of(rel):
    parts = rel.parts
    if "cli" in parts[:-1]:
        return "app"  # command-line front ends are composition roots too
    if parts[0] == "adapters" and len(parts) > 1:
        return "adapters/" + parts[1]
    return parts[0]


def allowed(area, target):
    target_area = area_of(pathlib.PurePosixPath(target))
    if area == "app" or target_area == area:
        return True
    if area == "core":
        return False
    if area in ("support", "imaging"):
        return target_area == "core"
    if area.startswith("adapters/"):
        return target_area in SHARED_LIBS | ENGINE_LIBS
    if area in ("engine", "pix2pix", "models"):
        return target_area in SHARED_LIBS
    return target_area in SHARED_LIBS


def main(src):
    root = pathlib.Path(src) / "labhouse"
    violations = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".h", ".hpp", ".cpp", ".cc"):
            continue
        rel = path.relative_to(root)
        area = area_of(rel)
        text = path.read_text(errors="replace")
        for kind, name in INCLUDE.findall(text):
            if name.startswith("labhouse/"):
                if not allowed(area, name[len("labhouse/"):]):
                    violations.append(f"{path}: {area} must not include {name}")
            elif area == "core" and kind == "<" and ("/" in name or name.endswith(".h")):
                violations.append(f"{path}: core uses the standard library only, not <{name}>")
            if name.startswith("torch/") or name.startswith("ATen/") or name.startswith("c10/"):
                public_header = path.suffix == ".h" and "internal" not in rel.parts
                if area not in ("engine", "pix2pix") or public_header:
                    violations.append(f"{path}: torch header <{name}> outside engine/pix2pix .cpp or internal/")
    for v in violations:
        print(v)
    print(f"layering: {len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))
