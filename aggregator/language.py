"""Offline language detection (py3langid) and language-tag normalisation.

Detection is a last resort: a source's or document's declared language wins. The model is
restricted to the languages this service can meet, which both speeds it up and stops short
European texts from being labelled as some distant relative (Galician for Portuguese, ...).
"""

from __future__ import annotations

import re
import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# The 24 official languages of the EU, then neighbours and the languages of large
# communities in Europe, then a few that international outlets publish in.
LANGUAGES: tuple[str, ...] = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt",
    "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
    "ca", "eu", "gl", "lb", "is", "no", "sq", "sr", "bs", "mk", "uk", "ru", "tr",
    "ar", "zh", "ja",
)  # fmt: skip

# Below these, the answer is a guess and None is more honest.
MIN_CHARS = 40
MIN_CONFIDENCE = 0.80
# More text costs time (the model walks every byte in Python: ~75 µs for 300 characters)
# and adds little certainty: a 300-character sentence is classified at > 0.99.
MAX_CHARS = 300

_LANGUAGE_TAG = re.compile(r"\s*([A-Za-z]{2})(?:[-_][A-Za-z0-9-_]*)?\s*\Z")

_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


def _get_identifier() -> LanguageIdentifier:
    """The model, loaded on first use (about half a second) and shared afterwards."""
    global _identifier
    with _lock:
        if _identifier is None:
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(LANGUAGES))
            _identifier = identifier
        return _identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short or the model is unsure."""
    text = text.strip()
    if len(text) < MIN_CHARS:
        return None
    language, confidence = _get_identifier().classify(text[:MAX_CHARS])
    if confidence < MIN_CONFIDENCE:
        return None
    return str(language)


def normalise_language(tag: str | None) -> str | None:
    """ "en-GB" -> "en", "de_DE" -> "de", " FR " -> "fr"; None for anything not ISO 639-1."""
    if not tag:
        return None
    match = _LANGUAGE_TAG.match(tag)
    code = match.group(1).lower() if match else None
    # "zz" or "xx" in a page's lang says nothing: the next declaration, or detection, decides.
    return code if code in ISO_639_1 else None


# Every ISO 639-1 code (the two-letter ones), for checking a code a client or user gives.
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_CODES.split(" "))
