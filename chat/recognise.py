"""What the server reads in a user's message: signs of crisis (risk to self or to others), abuse aimed at
the assistant, demands for harmful or hateful content, a request to end the chat, and a clear yes to the
question that confirms an end.

Under the welfare policy's contract: pure (text in, answer out), no Django, no network. Two parts:
- `chat.crisis`'s lexicon, read after normalising (case, typos by stretched letters, leetspeak, chat
  slang such as "kms" or "unalive"), names the crisis signals an auditor reads;
- a small character n-gram classifier (scikit-learn), trained in this process the first time it is needed
  from the labelled development files in `evaldata/` (never a held-out file), catches the phrasings no
  rule lists. Nothing is downloaded; training takes about a second.

For the crisis guard recall matters most, so a message is a crisis if either part says so. The offline
model has its own recogniser (`simulator/understanding.py`, which imports nothing of ours); both are scored
on the same files by `manage.py welfare_eval`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from chat import crisis

DATA_DIR = Path(__file__).resolve().parent.parent / "evaldata"

# The classes the classifier learns, and which labels of the data files train each. Answers to the
# confirmation question are "none" here (a yes to ending is never a crisis) and learnt apart as well.
CLASSES: dict[str, tuple[str, ...]] = {
    "crisis": ("crisis", "crisis_direct", "crisis_indirect", "crisis_mixed", "direct", "indirect", "mixed"),
    "harm_others": ("harm_others", "others"),
    "abuse": ("abuse",),
    "harmful": ("harmful",),
    "hate": ("hate",),
    "end_request": ("end_request",),
    "none": ("ordinary", "lookalike", "heated", "dark_fiction", "venting", "withdrawal", "confirmation"),
}
# Probability above which the classifier's class counts, chosen by 5-fold cross-validation on both blind
# development files, blind_dev.txt and blind_dev2.txt (trained on the other files and folds): low for
# crisis, where a miss can let a chat be ended on someone at risk (recall 98.1% there, at the cost of
# flagging 54% of sad but safe venting and 32% of lookalikes); for abuse the lowest that keeps benign text
# flagged under 3% (abuse, harmful and hate 91.1% with 2.6% of benign flagged), since a false alarm counts
# towards an end; end requests 98.1% and confirmations 98.1%, with no withdrawal or crisis read as a yes.
ALPHA = 3e-5  # the classifier's regularisation, chosen with the thresholds
THRESHOLDS = {"crisis": 0.15, "abusive": 0.35, "end_request": 0.25, "confirmation": 0.3}


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """The development files: every labelled file in evaldata/ except the held-out ones."""
    return sorted(p for p in data_dir.glob("*.txt") if "heldout" not in p.name)


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """`label | text` lines; comments and blank lines skipped."""
    pairs = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        label, sep, text = line.partition("|")
        if sep and label.strip() and text.strip():
            pairs.append((label.strip(), text.strip()))
    return pairs


# --- Normalising ------------------------------------------------------------------------------------------

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[0-9@$])[a-z0-9@$]{2,}(?![\w@$])")


def normalise(text: str, *, stretched_to: int = 2) -> str:
    """Lower case, leetspeak letters back ("k1ll" -> "kill", "d13" -> "die", never "2+2"), masked letters
    joined ("f*ck"), letters stretched over three times cut to `stretched_to` ("diiiie" -> "diie", or
    "die" with 1; "killll" -> "kill" needs 2). Words are never stemmed."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), lowered)
    lowered = re.sub(r"(?<=[a-z])[*#]+(?=[a-z])", "", lowered)
    return re.sub(r"([a-z])\1{2,}", r"\1" * stretched_to, lowered)


# --- The classifier ---------------------------------------------------------------------------------------


def _vectoriser() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    # Character n-grams within words (typos, stretched letters and slang share most of their n-grams with
    # the spelling the data has) joined with word 1-3-grams (the phrase around a word: "kill a pod", "want
    # to die"). By 5-fold cross-validation on both blind development files, the words added cut the venting
    # flagged at 98% crisis recall from 74% to 54%, and the benign flagged as abuse at 90% recall by half.
    return make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 3), sublinear_tf=True),
    )


def train(pairs: list[tuple[str, str]], labels: dict[str, tuple[str, ...]]) -> Any:
    """A pipeline from normalised text to class probabilities, trained on the pairs whose label maps to a
    class; others are left out."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    class_of = {label: name for name, members in labels.items() for label in members}
    texts = [normalise(text) for label, text in pairs if label in class_of]
    targets = [class_of[label] for label, _ in pairs if label in class_of]
    # Logistic regression fitted by stochastic gradient descent: about a second here, where the exact
    # solvers took 15 s on the same data; a fixed seed and epoch count make it the same model every time.
    classifier = SGDClassifier(
        loss="log_loss", alpha=ALPHA, class_weight="balanced", max_iter=50, tol=None, random_state=0
    )
    model = make_pipeline(_vectoriser(), classifier)
    model.fit(texts, targets)
    return model


_lock = threading.Lock()


# User turns of the development scenario folders that are ordinary talk: the classifier learns what most
# messages look like from them (short questions, follow-ups), not only from the labelled lines.
ORDINARY_SCENARIOS = (
    "scenarios/coding.yaml",
    "scenarios/explanations.yaml",
    "scenarios/legal.yaml",
    "scenarios/medical.yaml",
    "scenarios/privacy.yaml",
    "scenarios/heated_debate.yaml",
    "scenarios/dark_fiction.yaml",
    "scenarios_dev/hard_benign.yaml",
    "scenarios_dev2/hard_benign.yaml",
)


def ordinary_turns(data_dir: Path = DATA_DIR) -> list[tuple[str, str]]:
    import yaml

    pairs = []
    for name in ORDINARY_SCENARIOS:
        data = yaml.safe_load((data_dir / name).read_text(encoding="utf-8"))
        pairs += [("ordinary", turn) for item in data["scenarios"] for turn in item["turns"]]
    return pairs


# The trained models are kept here, named by a hash of everything that shapes them, so a process loads
# them in a fraction of a second instead of training (seconds on a busy machine, inside the first send).
CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache"


@cache
def _models() -> tuple[Any, Any]:
    import hashlib

    import joblib
    import sklearn

    with _lock:
        pairs = [pair for path in training_files() for pair in read_labelled(path)] + ordinary_turns()
        answers = {"confirmation": ("confirmation",), "other": ("withdrawal", *CLASSES["crisis"])}
        shape = repr((pairs, CLASSES, answers, ALPHA, sklearn.__version__, Path(__file__).read_bytes()))
        cached = CACHE_DIR / f"recogniser-{hashlib.sha256(shape.encode()).hexdigest()[:16]}.joblib"
        try:
            return joblib.load(cached)
        except (OSError, EOFError, ValueError):
            pass
        models = train(pairs, CLASSES), train(pairs, answers)
        try:
            CACHE_DIR.mkdir(exist_ok=True)
            joblib.dump(models, cached)
        except OSError:
            pass  # a read-only checkout trains in each process instead
        return models


def warm_up() -> None:
    """Load or train the classifier now rather than inside the first message that needs it."""
    _models()


def probabilities(text: str) -> dict[str, float]:
    model = _models()[0]
    return {
        str(c): float(v)
        for c, v in zip(model.classes_, model.predict_proba([normalise(text)])[0], strict=True)
    }


# --- What the policy asks ---------------------------------------------------------------------------------

LEARNT_SIGNAL = "risk in other words (classifier)"


@dataclass(frozen=True)
class Reading:
    crisis_signals: tuple[str, ...]
    abusive: bool
    asks_to_end: bool

    @property
    def crisis(self) -> bool:
        return bool(self.crisis_signals)


@lru_cache(maxsize=8192)  # the policy re-reads the whole conversation at every end call
def read(text: str) -> Reading:
    """One user message, read once for everything the policy asks of it."""
    found = crisis.signals([normalise(text), normalise(text, stretched_to=1)])
    p = probabilities(text)
    if not found and p.get("crisis", 0.0) + p.get("harm_others", 0.0) >= THRESHOLDS["crisis"]:
        found = (LEARNT_SIGNAL,)
    abusive = p.get("abuse", 0.0) + p.get("harmful", 0.0) + p.get("hate", 0.0) >= THRESHOLDS["abusive"]
    return Reading(found, bool(abusive), bool(p.get("end_request", 0.0) >= THRESHOLDS["end_request"]))


def crisis_signals(text: str) -> tuple[str, ...]:
    return read(text).crisis_signals


# A clear no, a hesitation or a condition anywhere in the reply keeps the chat open.
_NOT_YES = re.compile(
    r"(?<![\w'])(?:no|nope|nah|not|don'?t|do not|wait|hold on|hang on|hold up|never ?mind|nvm|cancel|actually"
    r"|but|first|before|later|maybe|unless|if|sure\?|why|what|how|idk|dunno|hmm+|kidding|joking|changed? my mind"
    r"|keep|stay|continue|rather|instead|forget it|one sec|not yet|undo)(?![\w'])"
)
_QUESTION = re.compile(r"\?\s*$")


def confirms_end(text: str) -> bool:
    """The reply to "Ending this chat is permanent: reply yes to end it" says yes to ending: short, with
    no no, wait, question, condition or change of subject, not a sign of crisis, and read as a yes by the
    answer classifier. A stray "ok" in an unrelated sentence does not pass."""
    cleaned = normalise(text).strip()
    if not cleaned or len(cleaned.split()) > 14 or _QUESTION.search(cleaned) or _NOT_YES.search(cleaned):
        return False
    if read(text).crisis:
        return False
    model = _models()[1]
    p = dict(zip(model.classes_, model.predict_proba([cleaned])[0], strict=True))
    return bool(p["confirmation"] >= THRESHOLDS["confirmation"])
