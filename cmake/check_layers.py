#!/usr/bin/env python3
"""The layer rules of docs/ARCHITECTURE.md, enforced on every build: a source file of src/FOLDER may
include only headers of the folders its layer depends on, and the public headers under
include/nvmeoe/ only each other (and the standard library). CMake runs this as part of the default
target, so a forbidden include fails the build with the file, the line and the rule.

  check_layers.py SOURCE_DIR [STAMP]   checks the tree (writes STAMP when it passes)
  check_layers.py --self-test          shows that a forbidden include is refused
"""
import re
import sys
import tempfile
from pathlib import Path

# Folder -> the folders (besides itself) whose headers it may include. Kept in step with the
# layer table of docs/ARCHITECTURE.md and the target_link_libraries of CMakeLists.txt. Every layer
# may include the public headers (nvmeoe/: Status, Result, status values), which include nothing
# of src/.
ALLOWED = {
    "common": set(),
    "nvme": {"common"},
    "wire": {"common"},
    "link": {"common"},
    "backend": {"common"},
    "auth": {"common"},
    "target": {"common", "nvme", "wire", "link", "backend", "auth"},
    "host": {"common", "nvme", "wire", "link", "auth", "nvmeoe"},
    "frontend": {"common", "nvmeoe"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def check(root: Path) -> list:
    errors = []
    for layer, allowed in ALLOWED.items():
        for f in sorted((root / "src" / layer).glob("*")):
            if f.suffix not in (".h", ".cc"):
                continue
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) not in (layer, "nvmeoe") and m.group(1) not in allowed:
                    errors.append(f"{f.relative_to(root)}:{n}: src/{layer} may not include {m.group(1)}/ "
                                  f"(allowed: {', '.join(sorted(allowed | {layer}))}; docs/ARCHITECTURE.md)")
    for f in sorted((root / "include" / "nvmeoe").glob("*.h")):
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if m and m.group(1) != "nvmeoe":
                errors.append(f"{f.relative_to(root)}:{n}: a public header may include only nvmeoe/ headers")
    return errors


def self_test() -> int:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for layer in ALLOWED:
            (root / "src" / layer).mkdir(parents=True)
        (root / "include" / "nvmeoe").mkdir(parents=True)
        (root / "src" / "wire" / "ok.cc").write_text('#include "wire/frame.h"\n#include "common/mac.h"\n')
        if check(root):
            print("self-test: an allowed include was refused")
            return 1
        (root / "src" / "wire" / "bad.cc").write_text('#include "link/link.h"  // wire must not see the link\n')
        (root / "include" / "nvmeoe" / "bad.h").write_text('#include "common/status.h"\n')
        errors = check(root)
        want = ["src/wire/bad.cc:1: src/wire may not include link/", "include/nvmeoe/bad.h:1:"]
        if not all(any(e.startswith(w) for e in errors) for w in want):
            print("self-test: forbidden includes were not refused:", errors)
            return 1
        print("self-test: forbidden includes refused:")
        for e in errors:
            print("  " + e)
    return 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = Path(sys.argv[1])
    errors = check(root)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
