"""Writers turn a free-text story into a Fountain screenplay: any OpenAI-compatible chat endpoint
(OPENREELS_LLM_URL, OPENREELS_LLM_MODEL, OPENREELS_LLM_KEY) or, with none configured, a deterministic
built-in writer. Every writer's output is parsed before it is accepted."""

from __future__ import annotations

import json
import math
import os
import re
import urllib.error
import urllib.request

from openreels.errors import OpenreelsError
from openreels.studio.screenplay import parse_fountain
from openreels.studio.storyboard import LOCATIONS

SYSTEM_PROMPT = """You are a screenwriter for a short vertical drama. Turn the user's story into a screenplay in
Fountain format: 2 to 4 scenes, each starting with a heading like 'EXT. PARK - DAY' or 'INT. ROOM - NIGHT';
at most two characters; each character introduced once in an action line in these words only:
'NAME, a man|woman|child with short|long black|brown|blonde|red|white|blue hair in a
red|orange|yellow|green|teal|blue|purple|pink|white|gray|black shirt'; dialogue under the character name in
capitals, optional parentheticals like (angry), (laughing), (sad), (surprised); transitions like CUT TO:.
Answer with the screenplay only."""

STOP = {
    "The", "A", "An", "And", "But", "Then", "When", "She", "He", "They", "It", "In", "On", "At", "As", "One",
    "That", "This", "There", "Her", "His", "Their", "We", "I", "You", "So", "After", "Before", "Later", "Finally",
    "Suddenly", "Meanwhile", "Yes", "No", "Oh", "What", "Why", "How", "Where", "Who", "Not", "If", "All",
}  # fmt: skip
INTERIORS = ("KITCHEN", "ROOM", "BEDROOM", "OFFICE", "HOUSE", "HOME", "CAFE", "SHOP", "HALL", "CLASSROOM")
TIMES = ("NIGHT", "EVENING", "MORNING", "DAWN", "DUSK", "SUNSET")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s.strip()]


def _names(story: str) -> list[str]:
    """Proper names: capitalised words, not common ones, seen mid-sentence or twice; the two most frequent."""
    plain = re.sub(r"[\"“”]", " ", story)
    words = [w for s in _sentences(plain) for w in re.findall(r"[A-Za-z']+", s)]
    counts = {w: words.count(w) for w in words if w[0].isupper() and w not in STOP}
    mid = {w for s in _sentences(plain) for w in re.findall(r"[A-Za-z']+", s)[1:]}
    # A capitalised word opening a sentence before a present-tense verb ("Sam walks ...") is a name too.
    starters = {m.group(1) for s in _sentences(plain) if (m := re.match(r"([A-Z][a-z]+) [a-z]+s\b", s))}
    names = [w for w in counts if counts[w] >= 2 or w in mid or w in starters]
    return sorted(names, key=lambda w: (-counts[w], story.find(w)))[:2]


def _kind(name: str, story: str, names: list[str], index: int) -> str:
    """'woman' or 'man' from a he/she pronoun in, or right after, a sentence naming only this character;
    alternating when the story never says."""
    sentences = _sentences(story)
    for i, sentence in enumerate(sentences):
        named = [n for n in names if re.search(rf"\b{n}\b", sentence, re.I)]
        if named != [name]:
            continue
        for text in sentences[i : i + 2]:
            others = [n for n in names if n != name and re.search(rf"\b{n}\b", text, re.I)]
            # Subject pronouns, or a possessive opening the sentence ("His grandmother ..."); "at him" is
            # usually someone else.
            pronoun = re.search(r"\b(she|he)\b|^(her|his)\b", text, re.I)
            if pronoun and not others:
                return "woman" if pronoun.group(0).lower() in ("she", "her") else "man"
    return ("woman", "man")[index % 2]


def builtin_writer(story: str) -> str:
    """Deterministic story -> Fountain: paragraphs (or thirds of the text) become scenes; quoted speech
    becomes dialogue of the character named in its sentence; other sentences are spoken in turn by the
    characters of the scene, except each scene's first, which is its action line."""
    story = story.strip()
    if not story:
        raise OpenreelsError("the story is empty; write a few sentences about who does what, then run again")
    names = _names(story) or []
    names += [n for n in ("ALEX", "SAM") if n.upper() not in {m.upper() for m in names}][: 2 - len(names)]
    names = [n.upper() for n in names]
    paragraphs = [p for p in re.split(r"\n\s*\n", story) if p.strip()]
    if len(paragraphs) < 2:
        sents = _sentences(story)
        k = max(1, math.ceil(len(sents) / 3))
        paragraphs = [" ".join(sents[i : i + k]) for i in range(0, len(sents), k)]
    out = [f"Title: {' and '.join(n.title() for n in names)}", "", "FADE IN:", ""]
    introduced: set[str] = set()
    for si, para in enumerate(paragraphs):
        words = re.findall(r"[A-Z]+", para.upper())
        outside = next((w for w in words if any(w in keys for _, keys in LOCATIONS)), None)
        inside = next((w for w in words if w in INTERIORS), "ROOM")
        time = next((t for t in TIMES if t in words), "DAY")
        out += [f"EXT. {outside} - {time}" if outside else f"INT. {inside} - {time}", ""]
        sents = _sentences(para)
        turn = si % 2
        for i, sentence in enumerate(sents):
            quotes = re.findall(r"[\"“]([^\"”]+)[\"”]", sentence)
            named = [n for n in names if re.search(rf"\b{n}\b", sentence, re.I)]
            if quotes:
                speaker = named[0] if named else names[turn % 2]
                out += [speaker, " ".join(q.strip() for q in quotes), ""]
                turn += 1
            elif i == 0:
                out += [_introduce(sentence, names, introduced, story), ""]
            else:  # narration becomes one character telling it; about a named character, the other one
                speaker = (
                    next((n for n in names if n not in named), names[turn % 2]) if named else names[turn % 2]
                )
                out += [speaker, sentence, ""]
                turn += 1
        if si + 1 < len(paragraphs):
            out += ["CUT TO:", ""]
    out += ["FADE OUT."]
    return "\n".join(out) + "\n"


def _introduce(sentence: str, names: list[str], introduced: set[str], story: str) -> str:
    """An action line that introduces characters the first time they appear, in WORLD words."""
    notes = []
    for n in names:
        if n not in introduced and re.search(rf"\b{n}\b", sentence, re.I):
            introduced.add(n)
            i = names.index(n)
            notes.append(
                f"{n}, a {_kind(n, story, names, i)} with {('long', 'short')[i % 2]} "
                f"{('red', 'black', 'brown', 'blonde')[i % 4]} hair in a {('blue', 'green', 'yellow', 'purple')[i % 4]} shirt, is here."
            )
    return " ".join([sentence, *notes])


def llm_writer(story: str, url: str, model: str, key: str = "", timeout: float = 120.0) -> str:
    """Ask an OpenAI-compatible /chat/completions endpoint for the screenplay (temperature 0)."""
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/chat/completions"):
        endpoint += "/chat/completions"
    body = {
        "model": model,
        "temperature": 0,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": story}],
    }
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(endpoint, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read().decode("utf-8"))
        text = reply["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as exc:
        raise OpenreelsError(
            f"LLM endpoint {endpoint} answered HTTP {exc.code}; check OPENREELS_LLM_URL/MODEL/KEY"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise OpenreelsError(
            f"cannot reach LLM endpoint {endpoint} ({exc}); check OPENREELS_LLM_URL"
        ) from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise OpenreelsError(
            f"LLM endpoint {endpoint} did not answer like an OpenAI chat API ({exc})"
        ) from exc
    fenced = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    return (fenced.group(1) if fenced else text).strip() + "\n"


def write_screenplay(story: str, writer: str = "auto", env: dict[str, str] | None = None) -> tuple[str, str]:
    """(Fountain text, writer that ran). "auto" uses the LLM when OPENREELS_LLM_URL is set, else built-in."""
    env = dict(os.environ if env is None else env)
    url = env.get("OPENREELS_LLM_URL", "")
    if writer == "auto":
        writer = "llm" if url else "builtin"
    if writer == "builtin":
        text, name = builtin_writer(story), "builtin"
    elif writer == "llm":
        if not url:
            raise OpenreelsError("--writer llm needs OPENREELS_LLM_URL (and OPENREELS_LLM_MODEL) to be set")
        model = env.get("OPENREELS_LLM_MODEL", "")
        if not model:
            raise OpenreelsError("set OPENREELS_LLM_MODEL to the model name your endpoint serves")
        text = llm_writer(story, url, model, env.get("OPENREELS_LLM_KEY", ""))
        name = f"llm:{model}"
    else:
        raise OpenreelsError(f"unknown writer {writer!r}; use auto, builtin or llm")
    try:
        parse_fountain(text, source=f"screenplay from the {name} writer")
    except OpenreelsError as exc:
        raise OpenreelsError(
            f"{exc} (the {name} writer wrote an unusable screenplay; try again or edit it)"
        ) from exc
    return text, name
