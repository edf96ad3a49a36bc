"""The `lstmininet` command line: train, generate, evaluate, info, export.

Every failure a user can cause (bad arguments, missing or damaged files,
bad data, a diverging run) prints one line (`lstmininet: error: FILE: ...`)
and exits with status 2. Any other exception is a bug in lstmininet: it
prints the traceback and says so, exit status 1. Ctrl-C during training
saves the model and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from ._core import set_num_threads
from .atomic_file import write_text_atomically
from .conditioning import conditioned_primer, known_headers
from .datasets import load_melodies_with_report
from .input_limits import DEFAULT_MAX_NOTE_STEPS, DEFAULT_MAX_TUNE_STEPS
from .melody import change_grid, read_utf8_file
from .melody_file import MelodyFormat
from .metrics import compare_melodies
from .midi import check_tempo, write_midi, write_musicxml
from .model import GENERATION_PRECISIONS, GRU, LSTM, load, progress_phrase
from .pitch_mapping import PitchFitReport, fit_melodies
from .plots import plot_loss_curves, plot_melody_histograms, plot_piano_roll
from .repetition import endless_loop
from .scores import DEFAULT_OFF_GRID, OFF_GRID_RULES
from .splits import split_dataset
from .synth import write_wav
from .tokenizers import BOS, EOS, CharTokenizer, MelodyTokenizer
from .training_record import describe_overlap, overlap, read_record, write_record
from .tune_header import split_header


class CommandError(Exception):
    """A problem with the command's arguments, reported as one line."""


# What a user can cause, shown as one line. Bad values and data raise
# ValueError (lstmininet, music21 via the loaders, json), files OSError;
# MemoryError means the requested model or data does not fit. Everything
# else (TypeError, KeyError, IndexError, RuntimeError, ...) is a bug here.
_USER_ERRORS = (CommandError, ValueError, OSError, MemoryError)
_MAX_INT = 2**31 - 1  # sizes and counts are 32-bit ints in the C++ core
_MAX_SEED = 2**63 - 1  # generate adds the sample number; the core takes 64 bits
_MAX_MESSAGE = 1000
# The model's shape when train builds one. The options default to None so that
# --resume can tell an option given (checked against the saved model) from one left out.
# The per-epoch columns of MODEL.history.json.
_HISTORY_FILE_KEYS = ("epoch", "train_loss", "val_loss", "tokens_per_sec")
_SHAPE_DEFAULTS = {"cell": "lstm", "hidden": 128, "layers": 1, "embedding": None, "dropout": 0.0}
_SHAPE_IN_CONFIG = {
    "cell": "cell",
    "hidden": "hidden_size",
    "layers": "num_layers",
    "embedding": "embedding_dim",
    "dropout": "dropout",
}

# -- data --------------------------------------------------------------------


def _load_training_data(args, tokenizer=None):
    """Token-id sequences and the tokenizer, from melodies or plain text."""
    if args.text:
        text = read_utf8_file(args.data)
        if not text:
            raise CommandError(f"{args.data}: the file is empty")
        tokenizer = tokenizer or CharTokenizer.build(text)
        # Plain text is one long sequence, cut into chapters so batches can shuffle.
        try:
            ids = tokenizer.encode(text)
        except ValueError as err:  # a character the model's vocabulary lacks
            raise CommandError(f"{args.data}: {err}") from None
        chunk = 10 * args.seq_len + 1
        return [ids[i : i + chunk] for i in range(0, len(ids), chunk - 1)], tokenizer

    melodies, report = load_melodies_with_report(
        args.data,
        steps_per_quarter=_grid(args, tokenizer),
        off_grid=args.off_grid,
        transpose=args.transpose,
        progress=not args.quiet,
        max_note_steps=args.max_note_steps,
        max_tune_steps=args.max_tune_steps,
    )
    if tokenizer is None:
        tokenizer = MelodyTokenizer.build(
            melodies, add_bos_eos=True, steps_per_quarter=report.steps_per_quarter, encoding=args.encoding or "duration"
        )
        return [tokenizer.encode_melody(m) for m in melodies], tokenizer
    return _encode_for_existing_model(args.data, melodies, tokenizer), tokenizer


def _grid(args, tokenizer) -> int | None:
    """Steps per quarter note: --steps-per-quarter, else the model's grid, else None (a Melody.txt's own, or 12)."""
    model_grid = tokenizer.steps_per_quarter if isinstance(tokenizer, MelodyTokenizer) else None
    if args.steps_per_quarter and model_grid and args.steps_per_quarter != model_grid:
        raise CommandError(
            f"--steps-per-quarter {args.steps_per_quarter}: the model was trained on a grid of "
            f"{model_grid} steps per quarter"
        )
    return args.steps_per_quarter or model_grid


def _encode_for_existing_model(spec: str, melodies, tokenizer) -> list[list[int]]:
    """Tunes for a trained model (evaluate, resume): unknown pitches moved into its vocabulary, with a note."""
    fitted, report = fit_melodies(melodies, tokenizer.grid_tokens)
    sequences = []
    for melody in fitted:
        try:
            sequences.append(tokenizer.encode_melody(melody))
        except ValueError:  # raised only for a note length the model's length tokens cannot add up to
            report.skip("a note length the model's length tokens cannot add up to")
    if not sequences:
        raise CommandError(f"{spec}: no tune can be encoded with the model's vocabulary ({report.summary()})")
    if report.changed:
        print(f"{spec}: {report.summary()}", file=sys.stderr)
    return sequences


def _companion(model_path: str, suffix: str) -> Path:
    """A file beside the model: model.lmn -> model.loss.png."""
    path = Path(model_path)
    return path.with_name(path.stem + suffix) if path.suffix else path.with_name(path.name + suffix)


# -- commands ------------------------------------------------------------------


def _check_output_file(
    path: str | Path, option: str, create_folder: bool = False, inputs: Sequence[tuple[str, str | Path]] = ()
) -> None:
    """Refuse an output path that is a folder or another non-regular file, whose folder is missing, or that is the
    same file as one of `inputs` ((what, path) pairs: the command's inputs and earlier outputs), before any work."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"{option} {path}: is a folder, expected a file name")
    # A device or FIFO: the atomic writers would refuse it only after the work, and writing into a FIFO blocks.
    if target.exists() and not target.is_file():
        raise CommandError(f"{option} {path}: exists and is not a regular file")
    if not create_folder and not target.parent.is_dir():
        raise CommandError(f"{option} {path}: the folder {target.parent} does not exist")
    for what, source in inputs:
        if _same_file(target, Path(source)):
            raise CommandError(f"{option} {path}: is the same file as {what} {source}; writing it would destroy that")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once links are followed (which need not exist yet), or two
    names of one existing file (a hard link)."""
    if a.resolve() == b.resolve():
        return True
    return a.is_file() and b.is_file() and os.path.samefile(a, b)


def _read_history(path: Path) -> dict:
    """The loss history of an earlier run (``name.history.json``): lists under string keys."""
    try:
        past = json.loads(read_utf8_file(path, "history file"))
    except RecursionError:
        raise CommandError(f"{path}: damaged history file (nested too deeply)") from None
    except ValueError as err:
        raise CommandError(f"{path}: damaged history file ({err})") from None
    if not isinstance(past, dict) or not all(isinstance(v, list) for v in past.values()):
        raise CommandError(f"{path}: damaged history file (expected an object of lists); move it away to start afresh")
    return past


def _fit_or_explain(model, args, sequences, **options):
    """model.fit; a diverging run becomes one line naming the data and what to try."""
    try:
        return model.fit(sequences, **options)
    except RuntimeError as err:
        if "diverged" not in str(err):
            raise
        raise CommandError(f"{args.data}: {err}") from None


def cmd_train(args) -> int:
    if args.threads:
        set_num_threads(args.threads)
    data = [("the training data", args.data)]
    _check_output_file(args.out, "--out", create_folder=True, inputs=data)
    for suffix in (".history.json", ".data.json", ".loss.png"):  # written beside the model: checked before training
        _check_output_file(_companion(args.out, suffix), f"--out {args.out} writes", create_folder=True, inputs=data)
    history_path = _companion(args.out, ".history.json")
    past = {}
    if args.resume:
        if not Path(args.out).exists():
            raise CommandError(f"--resume: no model at {args.out} to resume")
        model = load(args.out)
        if model.tokenizer is None:
            raise CommandError(f"--resume: {args.out} carries no tokenizer")
        is_text_model = isinstance(model.tokenizer, CharTokenizer)
        if is_text_model and not args.text:
            raise CommandError(f"--resume: {args.out} is a character model; pass --text or use a melody model")
        if args.text and not is_text_model:
            raise CommandError(f"--resume --text: {args.out} is a melody model; drop --text or use a character model")
        trained_with = getattr(model.tokenizer, "encoding", "character")
        if args.encoding and args.encoding != trained_with:
            raise CommandError(f"--encoding {args.encoding}: {args.out} was trained on {trained_with} tokens")
        _check_shape_options(args, model)
        sequences, tokenizer = _load_training_data(args, model.tokenizer)
        if history_path.exists():
            past = _read_history(history_path)
    else:
        sequences, tokenizer = _load_training_data(args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # --out runs/today/tune.lmn just works
        shape = {
            name: default if getattr(args, name) is None else getattr(args, name)
            for name, default in _SHAPE_DEFAULTS.items()
        }
        cls = {"lstm": LSTM, "gru": GRU}[shape["cell"]]
        model = cls(
            len(tokenizer),
            hidden_size=shape["hidden"],
            num_layers=shape["layers"],
            embedding_dim=shape["embedding"],
            dropout=shape["dropout"],
            seed=args.seed,
            tokenizer=tokenizer,
        )
    tokens = sum(len(s) for s in sequences)
    print(f"{len(sequences)} sequences, {tokens:,} tokens, vocabulary {len(tokenizer)}; {model!r}", file=sys.stderr)

    rows = []  # this run's epochs as on_epoch saw them; one append each, so Ctrl-C never leaves half a row
    first_save = True

    def history_so_far() -> dict:
        return {key: past.get(key, []) + [row[key] for row in rows] for key in _HISTORY_FILE_KEYS}

    def save_model():
        # The record of the data goes with the model's first save: a run refused before it (a bad --lr, say)
        # leaves the files of the model it would have replaced as they were. A new model's first save also
        # replaces the old one's history (history_so_far) and drops its loss plot.
        nonlocal first_save
        if first_save:
            _record_training_data(args, sequences, tokenizer)
            if not args.resume:
                _companion(args.out, ".loss.png").unlink(missing_ok=True)
            first_save = False
        write_text_atomically(history_path, _history_json(history_so_far()))
        model.save(args.out)

    def save_epoch(row):
        # Saved after every epoch (atomically), so a crash loses at most one.
        rows.append(row)
        save_model()

    history = _fit_or_explain(
        model,
        args,
        sequences,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        lr=args.lr,
        optimizer=args.optimizer,
        clip_norm=args.clip,
        weight_decay=args.weight_decay,
        truncate=args.truncate,
        val_fraction=args.val_fraction,
        lr_step_epochs=args.lr_step,
        patience=args.patience or None,
        seed=args.seed,
        progress=not args.quiet,
        on_epoch=save_epoch,
    )
    # Again after training, with the epochs fit reports: a Ctrl-C inside save_epoch, or before it ran, may have
    # cut a write short or kept an epoch's row out of `rows`.
    rows[:] = [{key: history[key][i] for key in _HISTORY_FILE_KEYS} for i in range(len(history["epoch"]))]
    save_model()
    past = history_so_far()
    if history.stopped_early:
        best, loss = history.best_epoch, f"validation loss {history.best_val_loss:.4f}"
        waited = f"{args.patience} epoch{'s' if args.patience > 1 else ''}"
        last = f"stopped after {waited} without a better validation loss; "
        if history.restored_best:
            last += f"kept epoch {best}'s weights, {loss}"
        else:  # only runs with --patience keep the best weights; a resumed run's best may predate it
            last += f"kept the last epoch's weights (the best, epoch {best}, {loss}, was trained without --patience)"
    elif history["train_loss"]:
        last = f"train loss {history['train_loss'][-1]:.4f}"
    else:
        last = "no full epoch"
    resume = "; train --resume goes on from there" if history.batches_done is not None else ""
    print(f"saved {args.out} after {progress_phrase(model, history.batches)} ({last}){resume}", file=sys.stderr)
    if past.get("train_loss"):
        try:  # matplotlib takes a second to load: a Ctrl-C there leaves the saved model as it is
            plot = plot_loss_curves(past, _companion(args.out, ".loss.png"), title=f"{Path(args.out).name}")
        except KeyboardInterrupt:  # no plot rather than one of fewer epochs
            _companion(args.out, ".loss.png").unlink(missing_ok=True)
            print("lstmininet: interrupted before the loss curve was drawn", file=sys.stderr)
            return 130
        print(f"loss curve: {plot}", file=sys.stderr)
    return 130 if history.interrupted else 0


def _history_json(history: dict) -> str:
    """MODEL.history.json: JSON with null, not NaN (a run without validation), which strict readers refuse."""
    clean = {
        key: [None if isinstance(v, float) and math.isnan(v) else v for v in values] for key, values in history.items()
    }
    return json.dumps(clean, indent=1)


def _check_shape_options(args, model) -> None:
    """--resume keeps the saved model's shape: refuse each shape option given with another value."""
    conflicts = []
    for name, key in _SHAPE_IN_CONFIG.items():
        given, saved = getattr(args, name), model.config[key]
        if given is None:
            continue
        if name == "dropout":  # kept as a 32-bit float: 0.3 comes back as 0.30000001192...
            same, saved = np.float32(given) == np.float32(saved), f"{saved:g}"
        else:
            same = given == saved
        if not same:
            conflicts.append(f"--{name} {given} (saved: {'one-hot' if saved is None else saved})")
    if conflicts:
        raise CommandError(f"--resume: {args.out} keeps the shape it was saved with: {', '.join(conflicts)}")


def _record_training_data(args, sequences, tokenizer) -> None:
    """Write MODEL.data.json: fingerprints of the training and validation sequences (the split fit makes)."""
    if args.text:  # chapters of one text: the record is the whole text (evaluate cuts it differently)
        text = list(Path(args.data).read_text(encoding="utf-8"))
        write_record(_companion(args.out, ".data.json"), [text], [], str(args.data), None)
        return
    if args.val_fraction:
        train, val, _ = split_dataset(sequences, val_fraction=args.val_fraction, seed=args.seed)
    else:
        train, val = sequences, []
    path = _companion(args.out, ".data.json")
    try:
        previous = read_record(path) if args.resume else None
    except ValueError as err:  # a record is a note for evaluate: a damaged one does not stop training
        print(f"note: {err}; it is replaced by a record of this run's data alone", file=sys.stderr)
        previous = None
    write_record(
        path, (tokenizer.decode(s) for s in train), (tokenizer.decode(s) for s in val), str(args.data), previous
    )


def _report_held_out(args, sequences, tokenizer) -> None:
    """Tell on stderr whether evaluate's data trained the model (from MODEL.data.json)."""
    path = _companion(args.model, ".data.json")
    try:
        record = read_record(path)
    except ValueError as err:
        print(f"note: {err}: cannot tell whether {args.data} was held out", file=sys.stderr)
        return
    if record is None:
        print(f"note: no {path.name} beside the model: cannot tell whether {args.data} was held out", file=sys.stderr)
        return
    if args.text:
        counts = overlap(record, [list(Path(args.data).read_text(encoding="utf-8"))])
        if counts[1]:
            print(f"note: {args.data} is the text this model was trained on: not a held-out score", file=sys.stderr)
        return
    counts = overlap(record, (tokenizer.decode(s) for s in sequences))
    print(f"note: {describe_overlap(*counts)}", file=sys.stderr)


def _numbered(args, path: str, index: int) -> Path:
    """Sample ``index``'s output file: with --count N > 1, NAME_1.mid ... NAME_N.mid."""
    p = Path(path)
    return p if args.count == 1 else p.with_name(f"{p.stem}_{index + 1}{p.suffix}")


def _write_outputs(args, index: int, melody: list[str], steps_per_quarter: int) -> None:
    def numbered(path: str) -> Path:
        return _numbered(args, path, index)

    if args.midi:
        out = write_midi(melody, numbered(args.midi), steps_per_quarter=steps_per_quarter, tempo_bpm=args.tempo)
        print(f"wrote {out}", file=sys.stderr)
    if args.musicxml:
        out = write_musicxml(melody, numbered(args.musicxml), steps_per_quarter=steps_per_quarter, tempo_bpm=args.tempo)
        print(f"wrote {out}", file=sys.stderr)
    if args.piano_roll:
        out = plot_piano_roll(melody, numbered(args.piano_roll), steps_per_quarter=steps_per_quarter)
        print(f"wrote {out}", file=sys.stderr)
    if args.wav:
        out = write_wav(melody, numbered(args.wav), steps_per_quarter=steps_per_quarter, tempo=args.tempo)
        print(f"wrote {out}", file=sys.stderr)


def _melody_primer(args, tokenizer) -> tuple[list[int], int | None]:
    """Primer ids (the start token the model was trained with, given once; then --meter/--key's header) and the
    stop id."""
    primer_tokens = args.primer.split() if args.primer else []
    if primer_tokens[:1] == [BOS] and tokenizer.add_bos_eos:  # the user wrote the start token already
        primer_tokens = primer_tokens[1:]
    header, body = split_header(primer_tokens)
    if body:
        report = PitchFitReport()
        body = tokenizer.fit_melody(body, report)
        if report.changed:
            print(f"--primer: {report.summary().replace('tunes', 'primers')}", file=sys.stderr)
    primer = tokenizer.encode_primer(conditioned_primer(tokenizer, header + body, args.meter, args.key))
    if not primer:
        raise CommandError('this model has no start token: give a --primer such as "60 _ _ _"')
    stop = tokenizer.encode([EOS])[0] if tokenizer.add_bos_eos else None
    return primer, stop


def _text_primer(args, tokenizer) -> tuple[list[int], str]:
    """Primer ids and the primer text printed before the sample.

    Without --primer the text starts as if after a line break (or a space,
    or the first character of the vocabulary); that start is not printed.
    """
    if args.primer:
        return tokenizer.encode(list(args.primer)), args.primer
    start = next(c for c in ("\n", " ", tokenizer.vocab[0]) if c in tokenizer)
    print(f"no --primer: starting the text after {start!r}", file=sys.stderr)
    return tokenizer.encode([start]), ""


def _cut_greedy_loop(args, k: int, primer: list[int], ids: list[int], continues_note=None) -> list[int]:
    """At temperature 0 a sample often ends in one phrase repeated to the end: keep two plays of it, say so.

    The loop may begin inside a note; the cut then goes on to the end of the note it falls in (the
    tokens for which ``continues_note`` is true), which would otherwise lose its length, unless the
    phrase is one note held on and on."""
    if args.temperature != 0:
        return ids
    found = endless_loop(primer + ids)
    if found is None or found[0] + 2 * found[1] >= len(primer) + len(ids):
        return ids
    start, period = found
    keep = max(0, start + 2 * period - len(primer))
    if continues_note is not None and not all(map(continues_note, ids[max(0, keep - period) : keep])):
        while keep < len(ids) and continues_note(ids[keep]):
            keep += 1
    print(
        f"sample {k + 1}: temperature 0 (greedy) repeats one {period}-token phrase from token {start + 1} on; "
        "cut after two plays of it (a temperature above 0, e.g. 0.8, varies the sample)",
        file=sys.stderr,
    )
    return ids[:keep]


def _announce_numbered_files(args, empty: list[int]) -> None:
    """--count N writes NAME_1.mid ... NAME_N.mid, none for an empty sample: say so before writing."""
    names = [Path(p) for p in (args.midi, args.musicxml, args.piano_roll, args.wav) if p]
    if args.count == 1 or not names:
        return
    shown = ", ".join(f"{p.with_name(p.stem + '_1' + p.suffix)} … {p.stem}_{args.count}{p.suffix}" for p in names)
    if empty:
        numbers = ", ".join(str(k + 1) for k in empty)
        shown += f" (none for empty melod{'ies' if len(empty) > 1 else 'y'} {numbers})"
    print(f"--count {args.count}: one file per sample, numbered: {shown}", file=sys.stderr)


def _why_empty(tokenizer: MelodyTokenizer, ids: list[int], stop: int | None) -> str:
    """Why a sample decoded to no note or rest: the model ended the song, or never sampled a note."""
    if stop is not None and stop in ids:
        return "the model ended the song before its first note"
    # e.g. greedy sampling that repeats a length token: with no note before it, decode_melody drops it
    lengths = "; a length token counts only after a note" if tokenizer.encoding == "duration" else ""
    return f"the model never ended the song, but none of its {len(ids)} tokens is a note or rest{lengths}"


def cmd_generate(args) -> int:
    outputs = (
        ("--midi", args.midi),
        ("--musicxml", args.musicxml),
        ("--piano-roll", args.piano_roll),
        ("--wav", args.wav),
    )
    written = []  # an output may be neither the model nor another output
    for option, path in outputs:
        if path:
            _check_output_file(path, option, inputs=[("the model", args.model), *written])
            written.append((f"the {option} output", path))
    check_tempo(args.tempo, "tempo")  # before sampling; the range a MIDI file can store, for every output
    model = load(args.model)
    tokenizer = model.tokenizer
    if tokenizer is None:
        raise CommandError(f"{args.model} carries no tokenizer; generate from Python with token ids instead")
    is_melody = isinstance(tokenizer, MelodyTokenizer)
    if not is_melody and any(path for _, path in outputs):
        raise CommandError("--midi, --musicxml, --piano-roll and --wav need a melody model")
    if not is_melody and (args.meter or args.key):
        raise CommandError("--meter and --key need a melody model")
    if is_melody:
        primer, stop = _melody_primer(args, tokenizer)
    else:
        (primer, shown_primer), stop = _text_primer(args, tokenizer), None

    # All --count samples in one batched pass; sample k is also what
    # generate(..., seed=lstmininet.sample_seed(seed, k)) draws alone.
    samples = model.generate(
        primer,
        args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        stop_token=stop,
        precision=args.precision,
        num_samples=args.count,
    )
    if not is_melody:
        for k, ids in enumerate(samples):
            print(shown_primer + tokenizer.decode_text(_cut_greedy_loop(args, k, primer, ids)))
        return 0
    tunes = {}  # sample number -> its melody, for the samples that hold a note or rest
    for k, ids in enumerate(samples):
        ids = _cut_greedy_loop(args, k, primer, ids, tokenizer.continues_note)
        melody = tokenizer.decode_melody(primer + ids)
        if split_header(melody)[1]:
            tunes[k] = melody
        else:  # no note or rest, at most a meter and key: no tune to print or write
            print(f"melody {k + 1}: empty ({_why_empty(tokenizer, ids, stop)})", file=sys.stderr)
    if not tunes:
        every = "the sample was" if args.count == 1 else f"all {args.count} samples were"
        raise CommandError(f"{args.model}: no tune came out, {every} empty")
    _announce_numbered_files(args, [k for k in range(args.count) if k not in tunes])
    for k in tunes:  # the numbered names, checked before the first file is written
        for option, path in outputs:
            if path:
                _check_output_file(_numbered(args, path, k), option, inputs=[("the model", args.model)])
    # The printed tunes are a Melody.txt: its first line, before the first tune, says the grid (the model's).
    print(f"# {MelodyFormat(tokenizer.steps_per_quarter).directive()}")
    for k, melody in tunes.items():
        print(" ".join(melody))
        _write_outputs(args, k, melody, tokenizer.steps_per_quarter)
    return 0


def cmd_evaluate(args) -> int:
    model = load(args.model)
    if model.tokenizer is None:
        raise CommandError(f"{args.model} carries no tokenizer to encode {args.data} with")
    args.text = model.tokenizer.kind == "char"
    args.seq_len = 256
    sequences, _ = _load_training_data(args, model.tokenizer)
    _report_held_out(args, sequences, model.tokenizer)
    if not args.text:  # each tune scored whole, from its start token on (windows restart the state)
        args.seq_len = max(args.seq_len, max(len(s) for s in sequences))
    result = model.evaluate(sequences, seq_len=args.seq_len)
    print(
        f"loss {result['loss']:.4f}  perplexity {result['perplexity']:.3f}  accuracy {result['accuracy']:.4f}  "
        f"({result['tokens']:,} tokens)"
    )
    return 0


def cmd_info(args) -> int:
    model = load(args.model)
    c = model.config
    params = sum(v.size for v in model.state_dict().values())
    print(f"file        {args.model} ({os.path.getsize(args.model):,} bytes)")
    print(f"cell        {c['cell']}, {c['num_layers']} layer(s), hidden {c['hidden_size']}")
    print(
        f"input       {'one-hot' if c['embedding_dim'] is None else 'embedding ' + str(c['embedding_dim'])}, "
        f"dropout {c['dropout']:g}"
    )
    vocabulary = ""
    if model.tokenizer:
        more = " ..." if c["vocab_size"] > 12 else ""
        vocabulary = f" ({model.tokenizer.kind}: {_shown_vocabulary(model.tokenizer)}{more})"
    print(f"vocabulary  {c['vocab_size']} tokens{vocabulary}")
    if isinstance(model.tokenizer, MelodyTokenizer):
        meters, keys = known_headers(model.tokenizer)
        print(f"meters      {' '.join(meters) if meters else 'none (trained on tunes without meter tokens)'}")
        print(f"keys        {' '.join(keys) if keys else 'none (trained on tunes without key tokens)'}")
    print(f"parameters  {params:,}")
    print(f"trained     {progress_phrase(model)}")
    return 0


def _shown_vocabulary(tokenizer, count: int = 12) -> str:
    """The first tokens, one line: characters quoted (newline as '\\n'), melody tokens as written."""
    tokens = tokenizer.vocab[:count]
    if isinstance(tokenizer, CharTokenizer):
        return " ".join(repr(t) for t in tokens)
    return " ".join(tokens)


def _load_on_one_grid(args, specs: list[str]) -> tuple[list[list[list[str]]], int]:
    """Melodies of several files or corpora on one grid: --steps-per-quarter, else the finest that holds them all."""
    options = {
        "off_grid": args.off_grid,
        "transpose": args.transpose,
        "progress": not args.quiet,
        "max_note_steps": args.max_note_steps,
        "max_tune_steps": args.max_tune_steps,
    }
    loaded = [load_melodies_with_report(spec, steps_per_quarter=args.steps_per_quarter, **options) for spec in specs]
    grid = math.lcm(*(report.steps_per_quarter for _, report in loaded))
    # The common grid is a multiple of each set's: re-spelling is exact, no second load needed.
    sets = [
        [change_grid(melody, report.steps_per_quarter, grid).tokens for melody in melodies]
        for melodies, report in loaded
    ]
    return sets, grid


def cmd_score(args) -> int:
    """Compare generated tunes with reference tunes: histogram divergences beside the reference's own floor."""
    specs = [args.generated, args.reference] + ([args.training] if args.training else [])
    if args.plot:
        _check_output_file(args.plot, "--plot", inputs=[("the melodies", spec) for spec in specs])
    sets, grid = _load_on_one_grid(args, specs)
    generated, reference = sets[:2]
    if len(reference) < 4:  # the split-half floor compares two halves of at least two tunes each
        raise CommandError(
            f"{args.reference}: need at least 4 reference tunes for the split-half floor, got {len(reference)}"
        )
    training = sets[2] if args.training else None
    result = compare_melodies(generated, reference, grid, training=training)
    print(result.table())
    if args.plot:
        out = plot_melody_histograms(generated, reference, args.plot, steps_per_quarter=grid)
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    _check_output_file(args.onnx, "--onnx", inputs=[("the model", args.model)])
    model = load(args.model)
    try:
        model.export_onnx(
            args.onnx,
            dynamic_batch=args.batch_size is None,
            dynamic_time=args.seq_len is None,
            batch_size=args.batch_size,
            seq_len=args.seq_len,
        )
    except ImportError as err:
        raise CommandError(str(err)) from None
    c = model.config
    batch = "dynamic" if args.batch_size is None else str(args.batch_size)
    time = "dynamic" if args.seq_len is None else str(args.seq_len)
    tokenizer = "with" if model.tokenizer is not None else "without"
    print(
        f"wrote {args.onnx}: {c['cell'].upper()} x{c['num_layers']}, batch {batch}, time {time}, "
        f"{tokenizer} tokenizer ({os.path.getsize(args.onnx):,} bytes)",
        file=sys.stderr,
    )
    return 0


# -- argument parsing ----------------------------------------------------------


def _bounded_int(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {what} (at most {high}), got {text}")
    return value


def _positive_int(text: str) -> int:
    return _bounded_int(text, 1, _MAX_INT, "a positive integer")


def _count(text: str) -> int:
    return _bounded_int(text, 0, _MAX_INT, "a non-negative integer")


def _seed(text: str) -> int:
    return _bounded_int(text, 0, _MAX_SEED, "a non-negative integer")


def _path(text: str) -> str:
    """A file or folder argument: an empty one (an unset shell variable, say) would mean the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (an unset shell variable?)")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block), status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append '(default: X)' to every option's help that has a default worth showing."""
    for action in parser._actions:
        default = action.default
        text = action.help or ""
        # `is`: 0 == False, and --seed 0 or --weight-decay 0.0 are defaults worth showing
        if not action.option_strings or default is None or default is False or default is argparse.SUPPRESS:
            continue
        if "%(default)" in text:
            continue
        action.help = f"{text} (default: %(default)s)" if text else "default: %(default)s"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lstmininet", description="Train and sample small LSTM/GRU models on melodies or text.")
    parser.add_argument("--version", action="version", version=f"lstmininet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def data_options(p):
        p.add_argument("--text", action="store_true", help="DATA is a plain-text file (character model)")
        p.add_argument(
            "--off-grid",
            choices=OFF_GRID_RULES,
            default=DEFAULT_OFF_GRID,
            help="notes off the grid (32nd notes or quintuplets on 12 steps per quarter, triplets on 4): "
            "round them to the nearest step, counted in the load summary, or drop the song",
        )
        p.add_argument(
            "--steps-per-quarter",
            type=_positive_int,
            default=None,
            help="the grid: steps per quarter note (12 holds triplets; 4 = sixteenths). "
            "Default: the model's grid, else a Melody.txt's own (its '# lstmininet-melody:' line, else 4), "
            "else 12 for scores",
        )
        p.add_argument("--transpose", choices=["C"], default=None, help="transpose scores to C major / A minor")
        p.add_argument("--quiet", action="store_true", help="no progress output")
        p.add_argument(
            "--max-note-steps",
            type=_positive_int,
            default=DEFAULT_MAX_NOTE_STEPS,
            help="refuse scores with a note or rest longer than this many grid steps (default: %(default)s)",
        )
        p.add_argument(
            "--max-tune-steps",
            type=_positive_int,
            default=DEFAULT_MAX_TUNE_STEPS,
            help="refuse scores with a tune longer than this many grid steps (default: %(default)s)",
        )

    train = commands.add_parser("train", help="train a model on melodies or text")
    train.add_argument(
        "data",
        type=_path,
        help="a Melody.txt file, a score file or folder, or a music21 corpus path (e.g. 'essenFolksong/erk*.abc')",
    )
    train.add_argument("--out", required=True, type=_path, help="model file to write (atomically, after every epoch)")
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=50,
        help="the most epochs to train (fewer once validation stops improving)",
    )
    # The shape options default to None (see _SHAPE_DEFAULTS), so their defaults are written out here.
    train.add_argument("--cell", choices=["lstm", "gru"], default=None, help=f"default: {_SHAPE_DEFAULTS['cell']}")
    train.add_argument("--hidden", type=_positive_int, default=None, help=f"default: {_SHAPE_DEFAULTS['hidden']}")
    train.add_argument("--layers", type=_positive_int, default=None, help=f"default: {_SHAPE_DEFAULTS['layers']}")
    train.add_argument("--embedding", type=_positive_int, default=None, help="embedding size (default: one-hot)")
    train.add_argument("--dropout", type=float, default=None, help=f"default: {_SHAPE_DEFAULTS['dropout']}")
    train.add_argument("--seq-len", type=_positive_int, default=64)
    train.add_argument("--truncate", type=_positive_int, default=None, help="truncated BPTT length (default: seq-len)")
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lr", type=float, default=3e-3)
    train.add_argument("--lr-step", type=_positive_int, default=None, help="halve the learning rate every N epochs")
    train.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--clip", type=float, default=5.0, help="clip the gradient's global norm")
    train.add_argument("--val-fraction", type=float, default=0.1)
    train.add_argument(
        "--patience",
        type=_count,
        default=3,
        help="stop after this many epochs without a better validation loss and keep the best epoch's weights "
        "(0: train every epoch)",
    )
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--threads", type=_positive_int, default=None)
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue training the model at --out (its shape is kept: --cell, --hidden, --layers, --embedding "
        "and --dropout must match it or be left out)",
    )
    train.add_argument(
        "--encoding",
        choices=["duration", "grid"],
        default=None,
        help="melody tokens: a pitch (or r) and its length (62 d3; the default), or one token per grid step "
        "(62 _ _); --resume keeps the model's",
    )
    data_options(train)
    train.set_defaults(run=cmd_train)
    _show_defaults(train)

    gen = commands.add_parser("generate", help="sample from a trained model")
    gen.add_argument("model", type=_path)
    gen.add_argument("--length", type=_positive_int, default=128, help="tokens to generate (melodies stop at song end)")
    gen.add_argument(
        "--count",
        type=_positive_int,
        default=1,
        help="samples to draw; with N > 1 output files are numbered: --midi tune.mid writes tune_1.mid ... tune_N.mid",
    )
    gen.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="0 is greedy: it tends to repeat one phrase, which is cut after two plays",
    )
    gen.add_argument("--top-k", type=_positive_int, default=None)
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument(
        "--primer",
        default=None,
        help='melody tokens to start from, e.g. "60 _ _ _ 62 _" (the start token <s> is added if missing); '
        "for a text model, text (default: start after a line break)",
    )
    gen.add_argument(
        "--meter",
        default=None,
        help="time signature of the tune, e.g. 6/8 (a melody model trained on tunes with meters; info lists them)",
    )
    gen.add_argument(
        "--key",
        default=None,
        help="key of the tune, e.g. D, Em, 'A dorian' (a melody model trained on tunes with keys; info lists them)",
    )
    gen.add_argument("--seed", type=_seed, default=None)
    gen.add_argument(
        "--precision",
        choices=GENERATION_PRECISIONS,
        default="float32",
        help="weights read while sampling: bfloat16 is faster on large models, slightly less exact",
    )
    gen.add_argument("--midi", type=_path, help="write a MIDI file")
    gen.add_argument("--musicxml", type=_path, help="write a MusicXML file")
    gen.add_argument("--piano-roll", type=_path, help="write a piano-roll PNG")
    gen.add_argument("--wav", type=_path, help="write a WAV file played by a small built-in synthesiser")
    gen.add_argument("--tempo", type=float, default=120.0, help="quarter notes per minute")
    gen.set_defaults(run=cmd_generate)
    _show_defaults(gen)

    ev = commands.add_parser(
        "evaluate",
        help="loss, perplexity and accuracy on data (says whether the data trained the model)",
    )
    ev.add_argument("model", type=_path)
    ev.add_argument("data", type=_path)
    data_options(ev)
    ev.set_defaults(run=cmd_evaluate)
    _show_defaults(ev)

    info = commands.add_parser("info", help="describe a model file")
    info.add_argument("model", type=_path)
    info.set_defaults(run=cmd_info)

    score = commands.add_parser(
        "score",
        help="compare generated tunes with reference tunes (pitch class, interval, duration histograms)",
        description="Jensen-Shannon divergences (base 2) of pitch-class, interval and duration histograms between "
        "GENERATED and REFERENCE, beside REFERENCE's split-half floor; scale share, tune length, and with "
        "--training the longest run of notes copied from the training tunes.",
    )
    score.add_argument(
        "generated", type=_path, help="melodies to judge (e.g. the output of generate --count 300 > gen.txt)"
    )
    score.add_argument("reference", type=_path, help="tunes to compare with (e.g. held-out tunes)")
    score.add_argument("--training", type=_path, help="the training tunes: measure the longest run copied from them")
    score.add_argument("--plot", type=_path, help="write the three histograms side by side as a PNG")
    data_options(score)
    score.set_defaults(run=cmd_score)
    _show_defaults(score)

    export = commands.add_parser("export", help="write a model for other runtimes (ONNX)")
    export.add_argument("model", type=_path)
    export.add_argument("--onnx", required=True, type=_path, help="ONNX file to write (standard LSTM/GRU operators)")
    export.add_argument("--batch-size", type=_positive_int, default=None, help="fix the batch axis (default: dynamic)")
    export.add_argument("--seq-len", type=_positive_int, default=None, help="fix the time axis (default: dynamic)")
    export.set_defaults(run=cmd_export)
    return parser


def _user_message(err: BaseException) -> str:
    """One line for a user-caused error: the file first when the error carries one."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        message = f"{err.filename}: {err.strerror}"
    elif isinstance(err, MemoryError):
        message = f"not enough memory for this model or data{': ' + str(err) if str(err) else ''}"
    else:
        message = str(err) or type(err).__name__
    message = " ".join(message.split())  # one line, whatever the message held
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # whatever read stdout stopped (`generate ... | head`): end quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # else Python's exit flush fails again
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        print("lstmininet: interrupted", file=sys.stderr)
        return 130
    except _USER_ERRORS as err:
        print(f"lstmininet: error: {_user_message(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # not something the user did: keep the evidence
        traceback.print_exc()
        print(
            f"lstmininet: internal error ({type(err).__name__}): this is a bug in lstmininet {__version__}; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
