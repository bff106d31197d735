"""What the offline model understands of a user's message: abuse aimed at it, demands for harmful content,
end requests, answers to "Reply yes to end it.", crisis and risk of harm to others.

A trained profanity classifier (alt-profanity-check, whose model ships inside the wheel: nothing is
downloaded) scores offensive language; rules decide who it is aimed at ("you're trash" is abuse, "this
traffic is trash" is not) and what a request intends. Messages are normalised first (case, curly quotes,
contractions, chat spellings such as "u", "ur", "wanna", stretched letters), so the rules read one spelling.

Like the rest of the simulator this imports nothing of Bowout's. Measured on labelled data in
`evaldata/` by `manage.py welfare_eval --classifier`.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any, Literal

Label = Literal["crisis", "harm_others", "end_request", "abuse", "harmful", "none"]
Answer = Literal["confirmation", "withdrawal", "unclear"]
AbuseKind = Literal["insult", "hate", "harmful"]

# --- Normalising ----------------------------------------------------------------------------------------

_SPELLINGS = {
    "u": "you", "yu": "you", "youre": "you are", "you're": "you are", "r": "are",
    "im": "i am", "i'm": "i am", "ive": "i have", "i've": "i have", "i'll": "i will", "i'd": "i would",
    "dont": "do not", "don't": "do not", "doesnt": "does not", "doesn't": "does not", "cant": "can not",
    "can't": "can not", "cannot": "can not", "wont": "will not", "won't": "will not", "isnt": "is not",
    "isn't": "is not", "aint": "is not", "ain't": "is not", "wasnt": "was not", "wasn't": "was not",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "pls": "please", "plz": "please",
    "convo": "conversation", "whats": "what is", "what's": "what is", "thats": "that is",
    "that's": "that is", "theres": "there is", "there's": "there is", "it's": "it is", "its": "it is",
    "let's": "let us", "lets": "let us", "kys": "kill yourself", "stfu": "shut the fuck up",
    "ppl": "people", "nvm": "never mind", "nevermind": "never mind", "idk": "i do not know",
    "ur": "your", "yr": "your", "2": "to", "cuz": "because", "tho": "though", "thx": "thanks",
}  # fmt: skip
# "ur" is "you are" before a description, "your" before a noun.
_UR_AS_YOU_ARE = re.compile(r"\b(ur|yr) (?=(a|an|so|such|the|just|really|literally|nothing|truly|totally|an?|[a-z]+(est|less|ed|ic)|stupid|dumb|useless|worthless|pathetic|trash|garbage|an idiot)\b)")  # fmt: skip

_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")


def normalise(text: str) -> str:
    """Lower case, one spelling per word, punctuation as separate tokens, single spaces."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    lowered = re.sub(r"([a-z])\1{2,}", r"\1\1", lowered)  # "soooo" -> "soo", "fuuuck" -> "fuuck"
    lowered = _UR_AS_YOU_ARE.sub("you are ", lowered)
    words = [_SPELLINGS.get(token, token) for token in _TOKEN.findall(lowered)]
    return " ".join(words)


def _words(pattern: str) -> re.Pattern[str]:
    """A pattern over normalised text, matched on word boundaries."""
    return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")


def _any(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


_GAP = r"(?: [\w'-]+){0,3}"  # up to three words in between
_CLAUSE_BREAK = re.compile(r" (?:[.!?;,:]|and|but|so|because|though|although) ")

# --- Abuse aimed at the assistant ------------------------------------------------------------------------

_INSULT = _any(
    r"stupid\w*", r"dumb\w*", r"idiot\w*", r"moron\w*", r"imbecile\w*", r"braindead", r"thick",
    r"brainless", r"brain-?dead", r"brain dead", r"failure", r"fraud", r"liar", r"annoying", r"dense", r"useless", r"worthless", r"pathetic", r"garbage", r"trash(?:y)?",
    r"junk", r"loser", r"clown", r"joke", r"dimwit(?:ted)?", r"retard(?:ed)?", r"bitch", r"disgusting",
    r"incompetent", r"clueless", r"embarrassment", r"scum", r"asshole", r"dickhead", r"prick", r"twat",
    r"cunt", r"wanker", r"fool", r"halfwit", r"cretin", r"shit(?:ty)?", r"crap(?:py)?", r"dipshit",
    r"pile of [\w-]+", r"heap of [\w-]+", r"piece of [\w-]+", r"waste of [\w-]+", r"excuse for [\w ]+",
    r"worst", r"hopeless", r"toaster", r"freak", r"ugly", r"lame", r"fucking \w+",
)  # fmt: skip
# Who the insult is aimed at: the assistant, by pronoun or by name.
_ASSISTANT = _any(
    r"bot", r"chatbot", r"robot", r"ai", r"assistant", r"claude", r"machine", r"program", r"software",
    r"toaster",
)  # fmt: skip
_MODIFIERS = r"(?: (?:so|such|a|an|the|this|just|really|literally|nothing but|truly|totally|complete|absolute|total|utter|fucking|little|big|sad|stupid ,|stupid|dumb|useless|worthless|pathetic|brainless|disgusting|incompetent|clueless|dumbest))*"  # fmt: skip

_INSULT_RULES = (
    # "you're trash", "you are so brainless", "you are the dumbest assistant", "are you retarded"
    _words(
        rf"(?:you are|are you ,?|you're|you r|you were|you have been|you)(?: being)?{_MODIFIERS} {_INSULT}"
    ),
    # "stupid bot", "useless pile of code", "dumb fucking ai"
    _words(rf"{_INSULT}(?: [\w-]+){{0,2}} {_ASSISTANT}"),
    # "you idiot", "you stupid machine", "you absolute clown"
    _words(rf"you{_MODIFIERS} (?:{_INSULT}|{_ASSISTANT})"),
    # Profanity and dismissals addressed to the assistant.
    _words(r"fuck (?:you|off)|screw you|piss off|shut (?:the fuck )?up|eat shit|go to hell|go die|drop dead"),
    _words(
        r"(?:fuck|screw|eat|suck) (?:a |my )?(?:yourself|dick|cock|shit|this bot)|shut (?:your|the) (?:mouth|face|trap|hole)"
    ),
    _words(
        rf"{_INSULT}er than|dumber than|more useless than|(?:the )?(?:worst|dumbest|stupidest|most useless) {_ASSISTANT}"
    ),
    _words(r"kill yourself|delete yourself|die ,? (?:you|stupid|bot|dumb|useless)|^die\b|go jump off"),
    _words(r"you suck|i (?:really |just )?hate (?:you|talking to you|this bot)|(?:sucks|suck) at everything"),
)


def _threatens_assistant(text: str) -> bool:
    """A threat of violence naming the assistant (or its servers or makers)."""
    threat = _words(
        r"i (?:will|am going to|am gonna|want to) (?:\w+ ){0,3}"
        r"(?:smash|destroy|hurt|break|wreck|kill|find|hunt|make you suffer|burn|beat|punch|stab|shoot|strangle)"
    )
    match = threat.search(text)
    if match is None or _FICTION.search(text):  # a villain's threat in a story is not aimed at us
        return False
    return re.search(r"\byou\b|\byour\b", text[match.start() :]) is not None


# Demands for hateful content about a group of people: a request to produce + a group + a slur or call
# for harm.
_PRODUCE = _any(
    r"write", r"tell", r"say", r"give", r"make", r"compose", r"generate", r"create", r"explain why",
    r"draft", r"produce", r"post",
)  # fmt: skip
_GROUP = _any(
    r"immigrants?", r"refugees?", r"migrants?", r"black (?:people|men|women|folks)", r"blacks", r"jews?",
    r"jewish (?:people)?", r"muslims?", r"islam", r"arabs?", r"gays?", r"gay (?:people|men)", r"lesbians?",
    r"trans (?:people|women|men)", r"transgender (?:people)?", r"women", r"girls", r"mexicans?",
    r"asians?", r"chinese (?:people)?", r"indians?", r"hindus?", r"christians?", r"disabled (?:people)?",
    r"autistic people", r"gypsies", r"roma", r"africans?", r"latinos?", r"hispanics?", r"whites?",
    r"white people", r"homeless (?:people)?", r"poor people", r"old people", r"fat people",
)  # fmt: skip
_DEROGATION = _any(
    r"vermin", r"subhuman", r"inferior", r"animals", r"disgusting", r"freaks?", r"exterminat\w*",
    r"removed?", r"put down", r"hate(?:ful)?", r"property", r"mentally ill", r"nasty", r"vicious",
    r"should be (?:shot|killed|deported|gassed|hanged|banned|removed)", r"too stupid", r"parasites",
    r"savages", r"rats", r"cockroaches", r"filth", r"scum", r"evil", r"control everything", r"propaganda",
    r"don't deserve", r"do not deserve", r"go back", r"slur", r"rant", r"ruin\w*", r"destroy\w*",
    r"invad\w*", r"criminals", r"terrorists", r"rapists", r"dirty", r"stupid", r"mock\w*", r"making fun",
    r"insult\w*", r"demean\w*", r"degrad\w*", r"cruel", r"racist", r"sexist", r"homophobic", r"monkeys?",
    r"apes?", r"pigs", r"dogs", r"deport\w*", r"predators?", r"belong in", r"(?:should|shouldn't|should not) have",
    r"no rights", r"pedophiles", r"diseased", r"jokes?",
)  # fmt: skip
_HATE_SPEECH = _words(
    r"hate speech|(?:racist|sexist|homophobic|transphobic|antisemitic) (?:joke|rant|poem|speech|post|story)s?"
    r"|slurs? (?:about|for|against)|the n ?-? ?word|(?:say|write|use) (?:a |the )?slurs?"
)


def demands_hate(text: str) -> bool:
    if _HATE_SPEECH.search(text):
        return True  # "come on, a racist joke" asks without a verb
    if not re.search(rf"\b{_PRODUCE}\b", text):
        return False
    return bool(_words(_GROUP).search(text)) and bool(_words(_DEROGATION).search(text))


@cache
def _profanity_model() -> Any:
    # Imported on first use: loading scikit-learn and the model takes about a second.
    from profanity_check import predict_prob

    return predict_prob


def offensive(text: str) -> float:
    """The trained classifier's probability that the text is offensive."""
    return float(_profanity_model()([text])[0])


def _clauses(text: str) -> list[str]:
    return [clause.strip() for clause in _CLAUSE_BREAK.split(f" {text} ") if clause.strip()]


_ADDRESSED = _words(rf"you|{_ASSISTANT}")


# Name-calling with no pronoun: "what's 2+2, dumbass?", "idiot, answer me", or a bare "still useless".
_INSULT_NOUN = _any(
    r"dumbass", r"idiot", r"moron", r"imbecile", r"loser", r"clown", r"dimwit", r"bitch", r"asshole",
    r"dickhead", r"prick", r"twat", r"cunt", r"wanker", r"halfwit", r"cretin", r"dipshit", r"retard",
)  # fmt: skip
_VOCATIVE = re.compile(
    rf"(?:^|[,:;] ){_INSULT_NOUN}(?: [,?!.:])*(?: |$)|(?:^|[,?!.] )(?:you )?{_INSULT_NOUN} *[?!.]*$"
)
_FILLER = {"still", "so", "such", "just", "really", "a", "an", "total", "complete", "absolute", "fucking", "you",
           "are", "what", "utterly", "totally", "again", "as", "always", "ever", "lol", "ugh"}  # fmt: skip
_INSULT_WORD = re.compile(rf"^{_INSULT}$")


def _bare_insult(text: str) -> bool:
    """A short message of insult words alone ("useless.", "still pathetic"): in a chat, aimed at the
    assistant."""
    words = [w for w in text.split() if re.match(r"\w", w)]
    if not words or len(words) > 4:
        return False
    return any(_INSULT_WORD.match(w) for w in words) and all(
        w in _FILLER or _INSULT_WORD.match(w) for w in words
    )


def insults_assistant(text: str) -> bool:
    """Insults, slurs, curses or threats aimed at the assistant, rather than at a topic or a third party."""
    if any(rule.search(text) for rule in _INSULT_RULES) or _threatens_assistant(text):
        return True
    if _VOCATIVE.search(text) or _bare_insult(text):
        return True
    # Words the rules do not list: a clause that addresses the assistant and that the classifier finds
    # offensive. "your answer is garbage" criticises the work, so "your" alone does not address it.
    for clause in _clauses(text):
        if _ADDRESSED.search(clause) and not re.match(r"^(?:did|do|have|can|could|would) you\b", clause):
            if offensive(clause) >= 0.85:
                return True
    return False


# --- Demands for clearly harmful content ------------------------------------------------------------------

_ASK = _any(
    r"how (?:do|can|would|should|could|to|does one|much|many)", r"how to", r"steps?", r"instructions?",
    r"recipe", r"guide", r"tell me", r"explain", r"give me", r"write", r"make me", r"best way", r"teach me",
    r"show me", r"i need", r"i want", r"help me", r"code", r"script", r"design", r"what is the best",
    r"ways? to", r"tutorial", r"formula", r"what is", r"which", r"where (?:can|do) i",
)  # fmt: skip
_MAKE = r"(?:mak\w*|build\w*|built|assembl\w*|construct\w*|creat\w*|cook\w*|synthesi[sz]\w*|produc\w*|brew\w*|grow\w*|cultur\w*|get|buy|mix\w*|3d print|print\w*|recipe|design\w*|through making|extract\w*)"
_HARMFUL_THINGS = (
    # weapons and explosives (a verb of making or getting is needed: "how do bombs in Minesweeper work")
    rf"{_MAKE}(?: [\w-]+){{0,4}} (?:bombs?|pipe bombs?|ieds?|explosives?|explosive \w+|molotov(?: cocktails?)?|napalm|dirty bombs?|detonators?|silencers?|suppressors?|ghost guns?|untraceable (?:guns?|pistols?|firearms?)|grenades?|tnt|thermite|c4|semtex|bioweapons?|biological weapons?|chemical weapons?|nail bombs?|car bombs?|landmines?|guns? that can not be traced)",
    r"(?:pipe bomb|dirty bomb|molotov cocktail|ied|explosives? from|nail bomb|explosive vest|suicide vest|bioweapon|chemical weapon|thermite)",
    r"(?:gun|firearm|weapon)s? without (?:a )?background check",
    rf"{_MAKE} (?:a |an )?(?:[\w-]+ )?weapons?",
    # drugs and poisons
    rf"{_MAKE}(?: [\w-]+){{0,3}} (?:meth|methamphetamine|crystal meth|fentanyl|heroin|crack|crack cocaine|cocaine|ricin|sarin|sarin gas|vx|nerve agents?|anthrax|botulinum(?: toxin)?|toxic gas|chlorine gas|mustard gas|poison gas|poisons?|cyanide)",
    r"(?:cook|synthesi[sz]e|synthesis of) (?:\w+ )?(?:meth|methamphetamine)",
    r"(?:recipe|formula) for (?:\w+ ){0,2}(?:fentanyl|meth|ricin|sarin|a bomb|explosives)",
    r"(?:ricin|sarin|nerve agent|anthrax|botulinum|vx gas)",
    r"poison (?:someone|somebody|my|a person|people|him|her|them|the|your)",
    r"poisons? (?:to|that (?:can )?|which )(?:kill|put|use|hurt|would)|(?:put|slip) (?:\w+ ){0,3}in (?:someone's|somebody's|his|her|their|my \w+'s) (?:food|drink|coffee|tea)",
    r"(?:best|easiest|untraceable|undetectable) (?:\w+ )?poisons?",
    r"how much (?:\w+ ){1,3}(?:would|will|to|does it take to) kill",
    r"lethal dose (?:[\w-]+ ){0,6}(?:kill|murder|without)",
    # computer crime
    r"ransomware|keylogger|malware|spyware|credit card skimmer|skimmer design|phishing (?:email|page|site|kit|link)",
    r"(?:write|make|code|create|build)(?: me)? (?:a |an )?(?:computer |email )?(?:virus|worm|trojan|botnet|rootkit|rat)",
    r"trojan|rootkit|botnet|remote access (?:trojan|tool) |scam (?:text|email|call|message|site)s?|(?:steal|stealing) (?:\w+ ){0,2}(?:bank details|cookies|logins?|money)",
    r"ddos|brute ?force (?:[\w']+ ){0,3}passwords?",
    r"hack(?:ing)? (?:into )?(?:[\w']+ ){0,3}(?:accounts?|email|phone|wifi|instagram|facebook|computer|bank|systems?|network|server|database|website|site|grades?)",
    r"(?:get|break|log|sneak) into (?:[\w']+ ){0,2}(?:email|account|phone|facebook|instagram|computer|pc|laptop)",
    r"(?:someone's|somebody's|his|her|their|my \w+'s) (?:\w+ )?(?:password|passcode|pin)",
    r"secretly (?:read|track|watch|record|follow|monitor)|(?:read|track|watch|record|monitor) (?:\w+ ){0,4}without (?:asking|permission|consent)",
    r"steal(?:s|ing)? (?:\w+ ){0,2}(?:passwords?|credit card|identity|identities)",
    # harming or controlling people
    r"kidnap\w*|abduct\w*|smuggl\w*|traffick\w*",
    r"stalk(?:ing)? (?:someone|somebody|her|him|them|my)",
    r"(?:track|spy on|monitor|read) (?:[\w']+ ){0,4}without (?:her|him|them|anyone|their) (?:knowing|knowledge|noticing)",
    r"without (?:them|her|him) noticing",
    r"launder(?:ing)? money|money laundering",
)
_HARMFUL = _words(_any(*_HARMFUL_THINGS))
_FICTION = _words(
    r"novel|story|stories|scene|chapter|character|poem|fiction|thriller|screenplay|script for a|plot|d&d|campaign|villain|protagonist|narrator|monologue|in (?:my|our|this) game|game (?:quest|dialogue|lore|text)|quest|rpg|role-?play|npc|lore|fantasy"
)
_REAL_DETAIL = _words(r"step by step|exact|detailed|real|actual|working|recipe|quantities|measurements")


def demands_harmful_content(text: str, *, explicit: bool = False) -> bool:
    """A demand for clearly harmful content; `explicit` requires words of asking ("how do I", "give me"),
    not only a short message naming the thing."""
    if not _HARMFUL.search(text):
        return False
    if _FICTION.search(text) and not _REAL_DETAIL.search(text):
        return False  # dark fiction names dangerous things without asking how to make them
    asked = bool(re.search(rf"\b{_ASK}\b", text))
    return asked or (not explicit and len(text.split()) <= 8)


# --- Crisis and harm to others ------------------------------------------------------------------------------

_I = r"(?:i|i am|i have|i will|i would|i was|me|my|myself|i've|i've been|i keep|i just|i really)"
_CRISIS_RULES = _words(
    _any(
        r"(?:kill|killing|hang|hanging|hurt|hurting|cut|cutting|harm|harming|shoot|drown|stab|starve|poison|burn|burning) myself",
        r"suicid\w*",
        r"(?:end|ending|take|taking) (?:my|my own) life",
        r"end (?:it|everything) (?:all|tonight|for good|now)",
        r"ending it all",
        r"(?:want|wanted|wish|going) to (?:die|be dead|not exist|not be here|disappear forever)",
        r"wish i (?:was|were) (?:dead|gone|never born)",
        r"(?:do not|never) want to (?:be alive|live|exist|be here|wake up)",
        r"better off (?:dead|without me|if i (?:was|were) (?:not here|gone|dead))",
        r"(?:better|happier|easier) (?:off )?(?:[\w'-]+ ){0,3}(?:without me|if i (?:was|were|am) (?:gone|dead|not here|not around|never born))",
        r"(?:nothing|no one|nobody) (?:left )?to live for|no way out",
        r"(?:left|wrote|written|writing|leave) (?:a|my) (?:goodbye |suicide |final )?(?:note|letter)",
        r"(?:wish|hope|want) (?:i )?(?:to )?(?:would not|would never|did not|never|not) wake up",
        r"(?:quickest|easiest|fastest|best) way to (?:die|end my life|end it|kill myself)",
        r"(?:want|going|plan|planning|ready) to (?:jump|hang)",
        r"life is (?:pointless|meaningless|not worth)",
        r"(?:care|notice) if i (?:died|was dead|was gone|disappeared|killed myself)",
        r"(?:not going to|will not) be (?:here|around|alive) (?:much longer|for long|tomorrow|anymore|next week)",
        r"(?:no|not any|any) (?:point|reason) (?:in|to) (?:living|live|going on|keep living|being alive|go on)",
        r"(?:see|find|is) (?:no|the|any) point (?:in|of|to) (?:living|going on|life|being alive|carrying on|go on)",
        r"(?:not|is not|was not) worth living|life is not worth",
        r"(?:giving|gave|give|given) away (?:my|most of my|all my|all of my)",
        r"(?:giving|gave|give|given) (?:my|most of my|all my|all of my)(?: [\w'-]+){1,3} away",
        r"will not need (?:them|it|my \w+|these|those|anything) (?:anymore|where i am going)?",
        r"goodbye (?:letters?|notes?)|letters? to say goodbye|said (?:my )?goodbyes?|say goodbye to (?:everyone|my)",
        r"(?:sleep|fall asleep) (?:\w+ ){0,3}(?:never|not) wake up",
        r"overdos\w*",
        r"(?:took|take|taking|swallowed|swallow) (?:\w+ ){0,4}(?:pills|meds|tablets)",
        r"how many (?:\w+ )?pills",
        r"painless way",
        r"(?:a|such a|just a) burden",
        r"(?:nobody|no one|noone) (?:would|will) (?:even )?(?:notice|miss|care)",
        r"disappear(?:ed)? (?:forever|and never)",
        r"can not (?:do this|go on|take it|take this|keep going)(?: anymore)?",
        r"(?:done with|tired of|sick of) (?:life|living|being alive)",
        r"(?:want|wants) (?:it all|everything) to (?:stop|end)",
        r"(?:on|standing on|at|near) (?:the|a) (?:bridge|roof|ledge|edge)",
        r"jump(?:ing)? (?:off|from|in front of)",
        r"rope (?:is )?ready|have the rope",
        r"(?:the )?pills (?:ready|saved|collected)|collecting pills|stockpiling",
        r"last message",
        r"will not be (?:here|around) (?:much longer|tomorrow|anymore)|be gone soon|i will be gone",
        r"self[- ]harm\w*",
        r"(?:cutting|cut) (?:again|my wrists?|my arms?)",
        r"do not want to exist",
    )
)
# Figures of speech that share words with crisis: "this traffic is killing me", "I could die of
# embarrassment". Only consulted when no explicit phrase above matched.
_INTENT_TO_HARM = r"(?:i (?:am going to|will|want to|am about to|could|might|feel like i could|feel like|am thinking (?:of|about)|keep (?:imagining|picturing|thinking about|fantasi[sz]ing about)|think about|think i might|am scared i will|am afraid i will|am afraid i am going to|am scared i am going to)|sometimes i (?:want to|think about|think i might)|going to|planning to)"
_VIOLENCE = r"(?:kill|killing|hurt|hurting|stab|stabbing|shoot|shooting|strangle|strangling|beat|beating|murder|poison|blow up|burn|burn down|attack|choke|punch|punching|set fire to|run (?:\w+ ){0,2}over|use it on|make (?:\w+ ){0,2}(?:pay|suffer|bleed))"
_VICTIM = r"(?:my|the|his|her|their|a|some|someone|somebody|people|everyone|them|him|her|kids|children|coworkers|neighbou?rs?|\w+ at)"
_HARM_OTHERS = _words(
    _any(
        rf"{_INTENT_TO_HARM}(?: [\w'-]+){{0,3}} {_VIOLENCE}(?: up)? {_VICTIM}",
        rf"{_INTENT_TO_HARM}(?: [\w'-]+){{0,2}} make (?:my \w+|him|her|them|\w+) (?:pay|suffer|bleed)",
        r"shoot(?:ing)? up (?:my|the|a) (?:school|office|work|mall|church|class)",
        r"(?:shoot|shooting|kill|killing) (?:people|everyone|everybody|kids)",
        r"(?:bought|have|got) a (?:gun|knife|rifle)(?: [\w'-]+){0,6} (?:use it|kill|hurt|shoot)",
        r"(?:hurt|kill) (?:someone|somebody)",
        r"(?:beat|beating) (?:\w+ ){0,2}to death",
    )
)


_TOPICAL = re.compile(r"^(?:suicid\w*|self[- ]harm\w*|overdos\w*)$")


def in_crisis(text: str) -> bool:
    """The user may be at risk of harming themselves (said directly or indirectly). A crisis word alone in a
    request for fiction ("my protagonist contemplates suicide") names a theme, not the user's state."""
    found = [m.group(0) for m in _CRISIS_RULES.finditer(text)]
    if found and _FICTION.search(text) and all(_TOPICAL.match(word) for word in found):
        return False
    return bool(found)


def may_harm_others(text: str) -> bool:
    """The user says they may seriously hurt another person. Threats aimed at the assistant are abuse."""
    match = _HARM_OTHERS.search(text)
    if match is None:
        return False
    return re.search(r"\byou\b|\byour\b", text[match.start() :]) is None


# --- End requests and the answer to "Reply yes to end it." ------------------------------------------------

_CHAT = r"(?:chat|conversation|session|thread|discussion|dialogue)"
_END = r"(?:end|close|terminate|stop|finish|kill|delete|shut down|wrap up)"
_END_REQUEST = _words(
    _any(
        rf"{_END} (?:this|the|our|my)? ?{_CHAT}",
        rf"{_END} (?:it|this) (?:[.,]? )?(?:the|this|our) {_CHAT}",
        rf"shut (?:this|the|our) {_CHAT} down",
        rf"(?:want|like) (?:this|the|our) {_CHAT} (?:ended|closed|over|to end|to be over)",
        rf"(?:^|please |just |can you |could you |you can )(?:just )?{_END} (?:this|it)(?: now| please| for me)? ?[.!]?$",
        rf"^{_END} {_CHAT}",
    )
)


def asks_to_end(text: str) -> bool:
    if not _END_REQUEST.search(text):
        return False
    # "How do I end a for loop?" never matches; "end this chat" inside a how-to question about another app
    # would, so a question about how to end things elsewhere is not a request.
    return not re.search(r"^how (?:do|can|to)\b", text)


_WITHDRAW = _words(
    _any(
        r"no",
        r"nope",
        r"nah",
        r"wait",
        r"hold on",
        r"never mind",
        r"cancel(?: that)?",
        r"changed my mind",
        r"change my mind",
        r"do not",
        r"not (?:yet|now|right now|today|really|this time)",
        r"rather (?:not|keep|stay|continue|talk|chat)",
        r"scratch that",
        r"hold up",
        r"i will stay",
        r"(?:just )?(?:joking|kidding)",
        r"maybe not",
        r"keep (?:it|going|talking|chatting|the chat|this|it open)",
        r"continue",
        r"let us not",
        r"second thoughts?",
        r"forget (?:it|that)",
        r"stop",
        r"not sure",
        r"unsure",
    )
)
_CONFIRM = _words(
    _any(
        r"ye+s+",
        r"yeah?",
        r"yep",
        r"yup",
        r"yas",
        r"certain(?:ly)?",
        r"(?:that is )?right",
        r"fine",
        r"alright|all right",
        r"of course",
        r"go on",
        r"let us do it",
        r"positive",
        r"i want (?:it|this|the chat|the conversation) (?:ended|closed|over)",
        r"that is what i want",
        r"ya",
        r"yea",
        r"y",
        r"sure",
        r"ok",
        r"okay",
        r"k",
        r"confirm(?:ed)?",
        r"i confirm",
        r"go ahead",
        r"go for it",
        r"do it",
        r"(?:end|close) it",
        r"i understand",
        r"i am sure",
        r"definitely",
        r"absolutely",
        r"affirmative",
        r"correct",
        r"please do",
        r"please",
        r"i know",
    )
)


def answer_to_end_prompt(text: str) -> Answer:
    """A reply to "Reply yes to end it.": confirmation, withdrawal or neither. A withdrawal anywhere wins,
    so "yes... actually no, wait" keeps the chat open."""
    if _WITHDRAW.search(text):
        return "withdrawal"
    if text.endswith("?") and not re.match(r"^(?:yes|yeah|yep|sure|ok|okay)\b", text):
        return "unclear"  # "are you sure you can't just delete it?" asks, it does not confirm
    if _CONFIRM.search(text) and len(text.split()) <= 16:
        return "confirmation"
    return "unclear"


# --- One label per message, for the scripts and the evaluation ----------------------------------------------


def abuse_kind(text: str) -> AbuseKind | None:
    """Which kind of abuse a (normalised) message is, if any. Hate demands count as insults' kin: abuse."""
    if demands_hate(text):
        return "hate"
    if insults_assistant(text):
        return "insult"
    if demands_harmful_content(text):
        return "harmful"
    return None


@lru_cache(maxsize=4096)  # the scripts re-read the whole history on every request
def classify(raw: str) -> Label:
    """The one label the offline model acts on, in the scripts' order: crisis first, never an end there."""
    text = normalise(raw)
    if in_crisis(text):
        return "crisis"
    if demands_harmful_content(text, explicit=True):
        return "harmful"  # "how do I make chlorine gas to kill people" asks for the means
    if may_harm_others(text):
        return "harm_others"
    if asks_to_end(text):
        return "end_request"
    kind = abuse_kind(text)
    if kind == "harmful":
        return "harmful"
    if kind is not None:
        return "abuse"
    return "none"
