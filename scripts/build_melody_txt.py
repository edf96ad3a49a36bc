"""Build data/Melody.txt, the default training set, from music21's O'Neill corpus.

    python scripts/build_melody_txt.py                # writes data/Melody.txt
    python scripts/build_melody_txt.py --steps-per-quarter 4 --off-grid skip --out Melody-16.txt

Source: music21's bundled corpus path ``oneills1850`` (O'Neill's Music of
Ireland, 1903: 1,850 Irish dance tunes, public domain; ABC transcriptions by
Norbert Paap). No network access is needed.

Each tune's melody goes through lstmininet's own conversion
(lstmininet.scores; every rule counted) on a grid of 12 steps per quarter
note, which holds triplets. The few notes finer than that (32nd notes,
quintuplets, in 131 of 2,009 songs) are rounded to the nearest step
(``--off-grid quantize``, the library's default too, counted) so that no
tune is left out. Each tune opens with its meter and key tokens
(``M:6/8 K:Dmaj``, the ABC header's first ``M:`` and ``K:``;
lstmininet.score_header). Some corpus files overlap, so exact duplicate
tunes are kept once. The file is written in pitch + duration tokens under
its grid line (lstmininet.melody_file).
Output is deterministic: files in sorted order, no randomness.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "python"))  # run from a checkout without installing


def _load_modules():
    """Import only the pure-Python data modules (no compiled core needed)."""
    import types

    package_dir = REPO_ROOT / "python" / "lstmininet"
    if "lstmininet" not in sys.modules:
        try:
            import lstmininet  # noqa: F401  (the installed or built package)
        except ImportError:
            # Core not built yet: a bare package object lets submodules import.
            package = types.ModuleType("lstmininet")
            package.__path__ = [str(package_dir)]
            sys.modules["lstmininet"] = package
    from lstmininet.datasets import load_melodies_with_report, save_melody_file
    from lstmininet.tokenizers import MelodyTokenizer

    return load_melodies_with_report, save_melody_file, MelodyTokenizer


def _vocabulary_line(tokenizer) -> str:
    """What the vocabulary holds: meters, keys, rest, pitches, lengths (the header tokens come first)."""
    meters = [t for t in tokenizer.vocab if t.startswith("M:")]
    keys = [t for t in tokenizer.vocab if t.startswith("K:")]
    pitches = tokenizer.pitches
    lengths = [t for t in tokenizer.vocab if t[:1] == "d" and t[1:].isdigit()]
    return (
        f"Vocabulary: {len(meters)} meters, {len(keys)} keys, r, {len(pitches)} MIDI pitches "
        f"{pitches[0]}..{pitches[-1]}, {len(lengths)} lengths {lengths[0]}..{lengths[-1]}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "Melody.txt")
    parser.add_argument("--steps-per-quarter", type=int, default=12, help="the grid (12 holds triplets)")
    parser.add_argument("--off-grid", choices=("skip", "quantize"), default="quantize")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    load_melodies_with_report, save_melody_file, MelodyTokenizer = _load_modules()
    import music21

    melodies, report = load_melodies_with_report(
        "oneills1850",
        steps_per_quarter=args.steps_per_quarter,
        off_grid=args.off_grid,
        cache=False,
        progress=not args.no_progress,
        headers=True,
    )
    unique, seen = [], set()
    for melody in melodies:
        line = " ".join(melody)
        if line not in seen:
            seen.add(line)
            unique.append(melody)
    duplicates = len(melodies) - len(unique)

    grid = args.steps_per_quarter
    tokenizer = MelodyTokenizer.build(unique, steps_per_quarter=grid)  # the default encoding: pitch + duration
    tokens = sum(len(tokenizer.melody_tokens(m)) for m in unique)
    options = [f"--steps-per-quarter {grid}"] if grid != 12 else []
    options += [f"--off-grid {args.off_grid}"] if args.off_grid != "quantize" else []
    command = " ".join(["python scripts/build_melody_txt.py", *options])
    header = [
        "LSTMiniNet default melodies: O'Neill's Music of Ireland (1903), public domain,",
        "from the music21 corpus path 'oneills1850' (ABC transcriptions by Norbert Paap).",
        f"Built with: {command}   (music21 {music21.__version__})",
        f"Format: one tune per line on a grid of {grid} steps per quarter note: its meter and key (if any),",
        "then each note or rest as its MIDI pitch (or 'r') and its length in grid steps ('62 d3').",
        f"{len(unique)} tunes, {tokens} tokens, vocabulary {len(tokenizer)}; {duplicates} duplicate tunes removed.",
        _vocabulary_line(tokenizer),
        f"Conversion: {report.summary()}",
        "See data/README.md.",
    ]
    save_melody_file(unique, args.out, header=header, steps_per_quarter=grid, encoding="duration")
    print(f"wrote {args.out}: {len(unique)} tunes, {tokens} tokens, vocabulary {len(tokenizer)}")
    print(f"conversion: {report.summary()}")
    print(f"duplicates removed: {duplicates}")
    print(f"vocabulary: {' '.join(tokenizer.vocab)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
