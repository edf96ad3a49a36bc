"""Tune headers in music21 scores: a part's meter and key as tokens (``M:6/8 K:Dmaj``), and back.

Reading: the header is the melody part's first time signature and its
first key. ABC ``K:`` fields give a ``key.Key`` with a mode (``K:Ador`` ->
A dorian); a bare ``KeySignature`` (MusicXML without ``<mode>``, some
MIDI) means the major key of its sharps or flats. A part without a time
signature or key has no token for it. A tune whose meter or key changes
keeps the first; :class:`~lstmininet.scores.LoadReport` counts such tunes.

Writing: :func:`header_objects` gives the music21 ``TimeSignature`` and
``Key`` that :func:`lstmininet.scores.tokens_to_stream` puts at the start
of the part, so MIDI and MusicXML files carry them.

music21 is imported inside the functions (loading a Melody.txt never pays
for it).
"""

from __future__ import annotations

from collections.abc import Sequence

from .tune_header import KEY_PREFIX, header_values, key_token, meter_token, mode_token, spell_key, validate_header_token

_MODE_TO_MUSIC21 = {
    "maj": "major",
    "min": "minor",
    "dor": "dorian",
    "phr": "phrygian",
    "lyd": "lydian",
    "mix": "mixolydian",
    "loc": "locrian",
}


def meter_token_of(time_signature) -> str | None:
    """``M:6/8`` for a music21 TimeSignature, None if no token spells it (such as 7/9)."""
    try:
        return meter_token(f"{time_signature.numerator}/{time_signature.denominator}")
    except (ValueError, TypeError, AttributeError):
        return None


def key_token_of(key_or_signature) -> str | None:
    """``K:Ador`` for a music21 Key, ``K:Dmaj`` for a bare KeySignature of 2 sharps; None if unreadable."""
    from music21 import key

    try:
        if isinstance(key_or_signature, key.Key):
            tonic, mode = key_or_signature.tonic, mode_token(str(key_or_signature.mode))
        else:
            tonic, mode = key_or_signature.asKey("major").tonic, "maj"
    except Exception:  # music21 raises several types for a damaged signature
        return None
    if mode is None:  # a mode music21 has but a key token does not spell: the major of the signature
        return key_token_of(key.KeySignature(key_or_signature.sharps))
    name = tonic.name.replace("-", "b")
    try:
        return key_token(name + mode)
    except ValueError:  # a double sharp or flat (music21 "F##"): the simplest spelling of that tonic
        return spell_key(tonic.pitchClass, mode)


def read_header(part) -> tuple[list[str], dict[str, int]]:
    """(the header tokens of a melody part, counts of what the header leaves out).

    Counts: ``meter_changes`` / ``key_changes`` (1 when the part changes
    its meter / key after the first), ``unreadable`` (time signatures or keys
    no token spells: left out).
    """
    from music21 import key, meter

    counts = {"meter_changes": 0, "key_changes": 0, "unreadable": 0}
    header = []
    for kind, classes, to_token in (
        ("meter", meter.TimeSignature, meter_token_of),
        ("key", key.KeySignature, key_token_of),  # key.Key is a KeySignature too
    ):
        tokens = [to_token(element) for element in part.recurse().getElementsByClass(classes)]
        readable = [token for token in tokens if token is not None]
        counts["unreadable"] += len(tokens) - len(readable)
        if readable:
            header.append(readable[0])
            if len(set(readable)) > 1:
                counts[f"{kind}_changes"] = 1
    return header, counts


def header_objects(tokens: Sequence[str]) -> list:
    """The music21 TimeSignature and Key a melody's header asks for (none without a header).

    The tokens must be valid (:func:`lstmininet.melody.validate_melody_tokens`).
    """
    from music21 import key, meter

    values = header_values(tokens)
    objects = []
    if "meter" in values:
        objects.append(meter.TimeSignature(values["meter"]))
    if "key" in values:
        text = values["key"]
        tonic, mode = text[:-3], text[-3:]  # "Bbdor": music21 writes the flat as "-"
        objects.append(key.Key(tonic[0] + tonic[1:].replace("b", "-"), _MODE_TO_MUSIC21[mode]))
    return objects


# --------------------------------------------------------------------------
# Modes in MIDI files
# --------------------------------------------------------------------------
# A MIDI key signature is sharps or flats plus major or minor: A dorian would
# come back as G major. So a modal key token also goes into a text event at
# the start of the file, and reading puts the mode back when the signature
# read agrees with it.


def midi_bytes_with_mode(score, tokens: Sequence[str]) -> bytes:
    """``score`` as MIDI file bytes; a modal key in the header (``K:Ador``) also as a text event."""
    from music21.midi import DeltaTime, MetaEvents, MidiEvent, translate

    midi_file = translate.music21ObjectToMidiFile(score)
    key = header_values(tokens).get("key")
    if key is not None and key[-3:] not in ("maj", "min") and midi_file.tracks:
        track = midi_file.tracks[0]
        text = MidiEvent(track, type=MetaEvents.TEXT_EVENT)
        text.data = f"{KEY_PREFIX}{key}".encode("ascii")
        track.events[0:0] = [DeltaTime(track), text]
    return midi_file.writestr()


def restore_midi_mode(midi_file, score) -> None:
    """Give ``score`` (converted from ``midi_file``) the modal key its text event names, if its signature agrees."""
    from music21 import key
    from music21.midi import MetaEvents

    token = next(
        (
            token
            for track in midi_file.tracks
            for event in track.events
            if event.type == MetaEvents.TEXT_EVENT
            for token in [_key_text(event.data)]
            if token is not None
        ),
        None,
    )
    if token is None:
        return
    (mode_key,) = header_objects([token])
    for part in getattr(score, "parts", None) or [score]:
        first = next(iter(part.recurse().getElementsByClass(key.KeySignature)), None)
        if first is not None and first.sharps == mode_key.sharps:
            first.activeSite.replace(first, key.Key(mode_key.tonic.name, mode_key.mode))


def _key_text(data) -> str | None:
    """The key token a MIDI text event holds, or None."""
    try:
        text = bytes(data).decode("ascii").strip()
        validate_header_token(text)
    except (ValueError, TypeError):
        return None
    return text if text.startswith(KEY_PREFIX) else None
