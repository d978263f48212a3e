"""The cast: one character sheet per speaking character (appearance in WORLD.md words, a free-text description
for real models, a voice), read from the screenplay's action lines where it describes them, filled in
deterministically where it does not, and kept as editable YAML in the project folder."""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, Field

from openreels.errors import OpenreelsError
from openreels.media.tts import Voice
from openreels.studio import vocab
from openreels.studio.screenplay import Screenplay
from openreels.world import vocab as W

KIND_WORDS = {
    "man": "man",
    "guy": "man",
    "boy": "child",
    "girl": "child",
    "kid": "child",
    "child": "child",
    "woman": "woman",
    "lady": "woman",
}
# Each kind's voice: pitch/rate factors on the TTS voice, espeak-ng variant for the fallback.
KIND_VOICES = {"man": (0.92, 1.0, "m3"), "woman": (1.3, 1.05, "f2"), "child": (1.5, 1.1, "f4")}


class VoiceSheet(BaseModel):
    pitch: float = Field(1.0, ge=0.5, le=2.0)
    rate: float = Field(1.0, ge=0.5, le=2.0)
    variant: str = ""

    def voice(self) -> Voice:
        return Voice(self.pitch, self.rate, self.variant)


class Character(BaseModel):
    name: str
    kind: vocab.Kind
    skin: vocab.Skin
    hair_color: vocab.HairColour
    hair_style: vocab.HairStyle
    shirt_color: vocab.Colour
    description: str = ""  # free text for real models; empty means the WORLD phrase below
    voice: VoiceSheet

    def world_subject(self) -> dict:
        """The sheet as a subject of an openreels.world caption."""
        return {
            "type": "human",
            "sub-type": self.kind,
            "skin": self.skin,
            "hair_color": None if self.hair_style == "bald" else self.hair_color,
            "hair_style": self.hair_style,
            "shirt_color": self.shirt_color,
        }

    def phrase(self) -> str:
        """The character in WORLD.md prompt words, e.g. 'a woman with long red hair in a blue shirt'."""
        if self.hair_style == "bald":
            return f"a bald {self.kind} with {self.skin} skin in a {self.shirt_color} shirt"
        return (
            f"a {self.kind} with {self.hair_style} {self.hair_color} hair and {self.skin} skin "
            f"in a {self.shirt_color} shirt"
        )


class Cast(BaseModel):
    characters: list[Character]

    def get(self, name: str) -> Character:
        for character in self.characters:
            if character.name == name:
                return character
        raise OpenreelsError(f"no character {name!r} in cast.yaml; fix the name or add a sheet for them")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.characters]


def _pick(name: str, salt: str, options: tuple[str, ...], avoid: set[str] = frozenset()) -> str:
    digest = int(hashlib.sha256(f"{name}/{salt}".encode()).hexdigest(), 16)
    free = [o for o in options if o not in avoid] or list(options)
    return free[digest % len(free)]


def describing_text(name: str, screenplay: Screenplay) -> str:
    """The first action sentence that names the character (where screenplays introduce people)."""
    pattern = re.compile(rf"\b{re.escape(name)}\b", re.I)
    for action in screenplay.actions:
        for sentence in re.split(r"(?<=[.!?])\s+", action.text):
            if pattern.search(sentence):
                return sentence
    return ""


def sheet_from_text(name: str, text: str, used_shirts: set[str]) -> dict:
    """Appearance from a describing sentence; anything it does not say is chosen from the name."""
    low = text.lower()
    kind = next((KIND_WORDS[w] for w in re.findall(r"[a-z]+", low) if w in KIND_WORDS), None)
    hair = re.search(rf"\b(?:(long|short)\s+)?({'|'.join(W.HAIR_COLORS)})\s+hair", low)
    shirt = re.search(
        rf"\b({'|'.join(W.COLOR_NAMES)})\s+(?:shirt|t-shirt|top|sweater|jacket|coat|dress)", low
    )
    skin = re.search(rf"\b({'|'.join(W.SKINS)})(?:-|\s)(?:skin|skinned)", low)
    style = "bald" if re.search(r"\bbald\b", low) else (hair.group(1) if hair and hair.group(1) else None)
    return {
        "name": name,
        "kind": kind or _pick(name, "kind", ("man", "woman")),
        "skin": skin.group(1) if skin else _pick(name, "skin", W.SKINS),
        "hair_color": hair.group(2) if hair else _pick(name, "hair", ("black", "brown", "blonde", "red")),
        "hair_style": style or _pick(name, "style", ("short", "long")),
        "shirt_color": shirt.group(1)
        if shirt
        else _pick(name, "shirt", W.COLOR_NAMES, used_shirts | {"white"}),
    }


def _in_voice_range(factor: float) -> float:
    """A voice factor folded into 0.5-2.0 (VoiceSheet's range)."""
    while factor > 2.0:
        factor /= 2.0
    while factor < 0.5:
        factor *= 2.0
    return factor


def build_cast(screenplay: Screenplay, existing: Cast | None = None) -> Cast:
    """A sheet for every speaking character; sheets already in `existing` (a person's edits) are kept."""
    kept = {c.name: c for c in (existing.characters if existing else [])}
    characters: list[Character] = []
    voices: set[tuple[float, float]] = set()
    for name in screenplay.characters:
        if name in kept:
            character = kept[name]
        else:
            used = {c.shirt_color for c in characters}
            fields = sheet_from_text(name, describing_text(name, screenplay), used)
            pitch, rate, variant = KIND_VOICES[fields["kind"]]
            # A distinct voice per character: each further speaker of a kind shifts pitch and rate.
            # Five pitch steps per lap, each lap a little slower, all kept inside the TTS's 0.5-2.0 range, so
            # a cast of any size gets valid voices (the first five of a kind are as they always were).
            n = sum(1 for c in characters if c.kind == fields["kind"])
            step, lap = n % 5, n // 5
            pitch = _in_voice_range(pitch * (1 + 0.1 * step * (-1) ** step))
            rate = _in_voice_range(rate * (1 + 0.06 * step) * 0.97**lap)
            for _ in range(100):  # a distinct voice if one is near; else share one
                if (round(pitch, 3), round(rate, 3)) not in voices:
                    break
                pitch = pitch * 1.07 if pitch * 1.07 <= 2.0 else pitch * 1.07 - 1.5
            voice = VoiceSheet(pitch=round(pitch, 3), rate=round(rate, 3), variant=variant)
            character = Character(voice=voice, **fields)
        voices.add((round(character.voice.pitch, 3), round(character.voice.rate, 3)))
        characters.append(character)
    return Cast(characters=characters)
