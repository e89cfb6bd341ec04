"""Run a script with ``modelrepair`` imported from another source tree (A/B timings).

    mkdir -p /tmp/old && git archive f0fe256 | tar -x -C /tmp/old
    .venv/bin/python benchmarks/run_tree.py /tmp/old benchmarks/lad.py --cases colon --eps 0.5

The editable install's import finder takes precedence over ``PYTHONPATH``, so setting
``PYTHONPATH`` alone silently benchmarks the working tree; this drops that finder and
puts ROOT first on ``sys.path``, then prints which tree was imported.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    root, script = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    if not (root / "modelrepair" / "__init__.py").is_file():
        print(f"run_tree: {root} has no modelrepair/ package", file=sys.stderr)
        return 2
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path[:0] = [str(script.parent), str(root)]
    import modelrepair

    print(f"# modelrepair from {Path(modelrepair.__file__).parent}", flush=True)
    sys.argv = [str(script), *argv[2:]]
    runpy.run_path(str(script), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
