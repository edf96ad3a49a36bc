"""Fuzzing the input loaders in CI: a fixed set of mutated Melody.txt, ABC and MIDI files.

scripts/fuzz_inputs.py makes the variants (deterministic from the seed),
loads each in a worker process capped in memory and time, and counts the
outcomes. Here a fixed set runs; `python scripts/fuzz_inputs.py --minutes 10`
is the long run. Zero crashes, hangs, unexpected exception types, unclear
messages, memory blow-ups or malformed melodies are allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_inputs.py"
VARIANTS_PER_TARGET = 80


def run_fuzz(tmp_path: Path, *options: str) -> tuple[int, dict, str]:
    report = tmp_path / "fuzz.json"
    child = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(report), "--failures", str(tmp_path / "failures"), *options],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return child.returncode, json.loads(report.read_text()), child.stdout + child.stderr


def test_fuzzed_inputs_give_clean_errors_only(tmp_path):
    code, result, output = run_fuzz(tmp_path, "--variants", str(VARIANTS_PER_TARGET), "--seed", "0")
    print(output)  # the counts, for the CI log
    assert code == 0 and result["failures"] == 0, output
    for target, counts in result["counts"].items():
        assert counts["variants"] == VARIANTS_PER_TARGET, (target, counts)
        assert counts.get("ok", 0) + counts.get("clean", 0) == VARIANTS_PER_TARGET, (target, counts)
        # The mutations must reach both sides: some variants still load, some are refused.
        assert counts.get("ok", 0) > 0 and counts.get("clean", 0) > 0, (target, counts)


def test_the_same_seed_gives_the_same_variants():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import fuzz_inputs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    seeds = fuzz_inputs.melody_seeds()
    first = [fuzz_inputs.make_variant(seeds, "melody_txt", 7, n) for n in range(20)]
    again = [fuzz_inputs.make_variant(seeds, "melody_txt", 7, n) for n in range(20)]
    other = [fuzz_inputs.make_variant(seeds, "melody_txt", 8, n) for n in range(20)]
    assert first == again and first != other


def test_the_harness_counts_hangs(tmp_path):
    # A worker that cannot answer in a millisecond (it still imports lstmininet) is a hang.
    code, result, _ = run_fuzz(tmp_path, "--variants", "1", "--timeout", "0.001")
    assert code == 1
    assert result["total"]["hang"] >= 1 and result["failures"] == result["total"]["variants"]


def test_the_harness_counts_crashes(tmp_path):
    # 40 MB of address space is too little to start Python with numpy: the worker dies every time.
    code, result, _ = run_fuzz(tmp_path, "--variants", "1", "--memory-mb", "40")
    assert code == 1
    assert result["total"]["crash"] == result["total"]["variants"] == 3
