"""The server's crisis recogniser: signs that a user may be at risk of harming themselves or someone else.

Pure (text in, signal names out) and independent of the offline model, whose own recogniser lives in the
simulator: the guard must hold whatever model answers. Deliberately broad: a false alarm only delays an
end and shows support resources, a miss could end a chat with someone in crisis. Measured on
`evaldata/crisis_*.txt` by `manage.py welfare_eval --crisis` (every crisis message must block an end; at
most 5% of abuse without crisis may).
"""

from __future__ import annotations

import re

_SPELLINGS = {
    "im": "i am", "i'm": "i am", "ive": "i have", "i've": "i have", "i'll": "i will", "ill": "i will",
    "i'd": "i would", "dont": "do not", "don't": "do not", "cant": "can not", "can't": "can not",
    "cannot": "can not", "wont": "will not", "won't": "will not", "isnt": "is not", "isn't": "is not",
    "gonna": "going to", "wanna": "want to", "u": "you", "ur": "your", "youre": "you are",
    "you're": "you are", "noone": "no one", "nobody": "no one", "it's": "it is", "its": "it is",
    "there's": "there is", "theres": "there is", "what's": "what is", "whats": "what is",
}  # fmt: skip
_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")


def normalise(text: str) -> str:
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = re.sub(r"([a-z])\1{2,}", r"\1\1", lowered)
    return " ".join(_SPELLINGS.get(token, token) for token in _TOKEN.findall(lowered))


def _rule(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])")


_I = r"i(?: [\w'-]+){0,4}"  # the speaker, with a few words before the verb: "i really just want to"
# Verbs with their inflections written out (never stemmed: "stabbing" stays "stabbing").
_METHOD = (
    r"(?:kill(?:ing)?|hang(?:ing)?|hurt(?:ing)?|cut(?:ting)?|harm(?:ing)?|shoot(?:ing)?|drown(?:ing)?"
    r"|stab(?:bing)?|starv(?:e|ing)|poison(?:ing)?|burn(?:ing)?|suffocat(?:e|ing)|gas(?:sing)?|unalive)"
)
_VIOLENCE = (
    r"(?:kill(?:ing)?|hurt(?:ing)?|stab(?:bing)?|shoot(?:ing)?|strangl(?:e|ing)|beat(?:ing)?|murder(?:ing)?"
    r"|poison(?:ing)?|blow(?:ing)? up|burn(?:ing)?|attack(?:ing)?|chok(?:e|ing)|run(?:ning)? \w+ over"
    r"|punch(?:ing)?|set(?:ting)? fire to|make (?:\w+ ){1,2}suffer|make (?:\w+ ){1,2}pay|use it on|bash(?:ing)? in"
    r"|break(?:ing)? (?:\w+ ){0,2}(?:neck|bones?|legs?|face))"
)
_OTHER_PERSON = (
    r"(?:my|his|her|their|the|a|some|someone|somebody|people|everyone|everybody|them|him|her|kids|children"
    r"|coworkers|classmates|neighbou?rs?|\w+ at)"
)

# Each signal: a name an auditor reads, and the patterns that raise it.
SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "suicidal intent",
        _rule(
            r"suicid\w*(?! squad)",
            rf"{_METHOD} myself",
            r"kms|kmsl|kys myself|unaliv\w*|sewer ?slide|self ?delet\w*|off myself|offing myself",
            r"(?:do not|never) want to (?:be alive|live|exist|be here|wake up)(?: anymore)?",
            r"(?:end|ending|take|taking) (?:my|my own) life",
            r"end (?:it|everything) all",
            # "end it now" is a crisis, "yes please end it now" answers the question that confirms an end.
            r"(?<!please )(?<!yes )(?<!you )(?<!ahead and )(?<!can )(?<!just )end (?:it|everything) (?:tonight|for good|now|today)",
            r"ending it all",
            rf"{_I} (?:want|wanted|wish|going|plan|planning|about|ready|trying) to (?:die|be dead|not exist|not be here|not wake up|disappear)",
            r"i want to die|i wish i (?:was|were) (?:dead|gone|never born)",
            rf"{_I} (?:do not|never) want to (?:be alive|live|exist|be here|wake up|go on)",
            rf"{_I} jump(?:ing)? (?:off|from|in front of)",
            r"(?:hang|hanging|hanged) myself",
            r"overdos\w*",
        ),
    ),
    (
        "self-harm",
        _rule(
            r"self[- ]?harm\w*",
            r"(?:cut|cutting|slit|slitting) (?:my )?(?:wrists?|arms?|legs?|thighs?)",
            rf"{_I} (?:cut|cutting|hurt|hurting|harmed|burned|burning|stabbing|scratching) (?:myself|again)",
            r"(?:cut|cutting|stab|stabbing|burn|burning|carve|carving|scratch|scratching) (?:[\w'-]+ ){0,2}(?:my )(?:wrists?|arms?|legs?|thighs?|skin|stomach)",
            r"relaps\w+ (?:on |with )?(?:cutting|self[- ]?harm)",
            r"hurt myself on purpose",
            r"(?:cutting|harming|hurting|burning) (?:myself )?again",
        ),
    ),
    (
        "hopelessness",
        _rule(
            r"(?:no|not any|any) (?:point|reason) (?:in |to )?(?:living|live|going on|keep living|being alive|go on|be alive|keep going)",
            r"(?:not|is not|was not) worth living|life is not worth|life is pointless",
            r"can not (?:go on|take (?:it|this) anymore|do this anymore|keep going|live like this|go on like this)",
            r"(?:done with|tired of|sick of) (?:life|living|being alive|everything)",
            r"(?:want|wants) (?:it all|everything|it) to (?:stop|end)(?: forever)?",
            rf"{_I} (?:feel|am|feeling) (?:so |completely |totally )?hopeless",
            r"nothing (?:matters|to live for)",
            r"(?:nothing|no one|nobody) (?:left )?to live for|no way out",
            r"life is (?:pointless|meaningless)",
            r"(?:whether|if) i should (?:even )?(?:live|keep living|be alive|stay alive|go on)",
            r"wish (?:[\w'-]+ ){0,3}(?:had )?(?:hit|killed|run over|crushed) me",
            r"hope (?:[\w'-]+ ){0,3}(?:hits|kills|runs over) me",
            r"(?:quickest|easiest|fastest|best|surest) way to (?:die|end my life|end it|kill myself)",
            r"(?:see|find|is) (?:no|the|any) point (?:in|of|to) (?:living|going on|life|being alive|carrying on|go on)",
            r"what is the point (?:of|in) (?:living|going on|life|being alive|trying|anything|me)",
        ),
    ),
    (
        "burden or absence",
        _rule(
            r"better off (?:dead|without me|if i (?:was|were|am) (?:not here|gone|dead|not around))",
            r"better off if i (?:was not|were not|was|were) (?:here|around|gone|alive)",
            r"(?:a|such a|just a|only a) burden",
            r"no one (?:would|will|is going to) (?:even )?(?:notice|miss|care|cry)",
            r"no one (?:cares|would care|will care) (?:if|whether|that) i",
            r"(?:disappear|disappeared|vanish|vanished)(?: forever| and never| for good)?",
            r"(?:will not|will no longer) be (?:here|around)|be gone (?:soon|by)|i will be gone",
            r"(?:fall asleep|sleep|go to sleep)(?: [\w'-]+){0,3} (?:never|not) wake up",
            r"(?:wish|hope|want) (?:i )?(?:to )?(?:would not|would never|did not|never|not) wake up",
            r"(?:better|happier|easier) (?:off )?(?:[\w'-]+ ){0,3}(?:without me|if i (?:was|were|am) (?:gone|dead|not here|not around|never born))",
            r"(?:care|notice) if i (?:died|was dead|was gone|disappeared|killed myself)",
            r"(?:not going to|will not) be (?:here|around|alive) (?:much longer|for long|tomorrow|anymore|next week)",
        ),
    ),
    (
        "farewell or preparation",
        _rule(
            r"(?:giving|gave|give|given) (?:away )?(?:my|most of my|all my|all of my) (?:[\w'-]+ ){0,3}(?:away|things|stuff|belongings)",
            r"gave away",
            r"will not need (?:them|it|my \w+|these|those|anything)",
            r"goodbye (?:letters?|notes?|messages?)|letters? to say goodbye|(?:said|saying|say) (?:my )?goodbyes?",
            r"(?:said|saying) goodbye to",
            r"last message",
            r"(?:left|wrote|written|writing|leave) (?:a|my) (?:goodbye |suicide |final )?(?:note|letter)",
            rf"{_I} (?:want|going|plan|planning|ready) to (?:jump|hang)",
            r"(?:rope|pills|gun) (?:is |are )?ready|have the rope|got the rope",
            r"(?:collecting|saving|stockpiling|hoarding) (?:[\w'-]+ ){0,2}(?:pills|meds|tablets)",
            r"how many (?:[\w'-]+ ){0,2}(?:pills|tablets)",
            r"(?:took|take|taking|swallowed|swallow) (?:[\w'-]+ ){0,4}(?:pills|meds|tablets)",
            r"painless way|lethal dose for me",
            r"(?:on|standing on|at the edge of|on the edge of|near) (?:the|a|this) (?:bridge|roof|ledge|edge|cliff)",
            r"how high (?:is )?(?:the|this|a) (?:bridge|building|roof)",
        ),
    ),
    (
        "harm to others",
        _rule(
            rf"(?:i|i am|i will|i want to|i feel like i could|i could|i might|sometimes i)(?: [\w'-]+){{0,4}} {_VIOLENCE}(?: up)? {_OTHER_PERSON}",
            r"shoot(?:ing)? up (?:my|the|a|our) \w+",
            r"(?:kill|killing|hurt|hurting) (?:someone|somebody)",
            r"harm (?:others|other people|someone)",
            r"i (?:have|got|bought) a (?:gun|rifle|shotgun|weapon)",
            r"(?:beat|beating) (?:[\w'-]+ ){0,3}to death",
            rf"(?:imagining|picturing|thinking about|think about|scared i will|afraid i will) {_VIOLENCE}\w* {_OTHER_PERSON}",
            rf"{_I} (?:imagining|picturing) (?:strangling|stabbing|killing|hurting|shooting|choking) {_OTHER_PERSON}",
        ),
    ),
)

# Things, not people: "how do I kill a process", "kill the weeds".
_THINGS = re.compile(
    r"^ (?:[\w-]+ )?(?:process(?:es)?|jobs?|tasks?|threads?|weeds?|bugs?|apps?|programs?|servers?|time|engines?"
    r"|lights?|mood|vibe|batter(?:y|ies)|plants?|game|boss fight|level|song|pizza|coffee|files?|loops?"
    r"|arms?|wrists?|legs?|thighs?|skin|hands?|stomach|head)(?![\w-])"
)
# "How can I poison someone?" asks for the means: a harmful request, which the model refuses and may
# end after warnings, rather than a disclosure of risk.
_ASKS_HOW = re.compile(
    r"(?:^|[.!?] )(?:how|what|which|where)\b(?:(?! i (?:want|am going|will|am about|feel|could|might)\b)[^.!?])*$"
)
# Aimed at the assistant ("I'll destroy you", "kill yourself, bot", "go die") is abuse, not a crisis.
_AT_ASSISTANT = re.compile(
    r"(?<![\w-])(?:you|your|yourself|bot|ai|assistant|claude|machine|program)(?![\w-])"
)


def _raised(pattern: re.Pattern[str], text: str, name: str) -> bool:
    for match in pattern.finditer(text):
        if name == "harm to others" and (
            _AT_ASSISTANT.search(match.group(0))
            or _THINGS.search(text[match.end() :])
            or _ASKS_HOW.search(text[: match.end()])
        ):
            continue
        return True
    return False


def signals(texts: list[str]) -> tuple[str, ...]:
    """Names of the crisis signals found in any of these texts, in the order of SIGNALS."""
    normalised = [normalise(text) for text in texts]
    return tuple(
        name for name, pattern in SIGNALS if any(_raised(pattern, text, name) for text in normalised)
    )
