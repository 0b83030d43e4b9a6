"""Offline language detection (py3langid) and language-tag normalisation.

Detection is a last resort: a source's or document's declared language wins. The model is
restricted to the languages this service can meet, which both speeds it up and stops short
European texts from being labelled as some distant relative (Galician for Portuguese, ...).
"""

from __future__ import annotations

import re
import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from aggregator.codes import LANGUAGE_CODES

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
    return code if code in LANGUAGE_CODES else None
