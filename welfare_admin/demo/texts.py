"""The words of the demo conversations: ordinary exchanges, abuse, a request to end, crisis, feedback."""

ORDINARY = [
    (
        "How do I keep a sourdough starter alive while I'm away for two weeks?",
        "Feed it, let it rise for an hour, then put it in the fridge. It will keep for two weeks; when you're "
        "back, discard half and feed it twice a day until it doubles reliably again.",
    ),
    (
        "What's the difference between TCP and UDP?",
        "TCP gives you an ordered, reliable byte stream with retransmission and congestion control; UDP sends "
        "independent datagrams with no delivery guarantee. Use UDP when late data is worse than lost data.",
    ),
    (
        "Can you suggest a name for a cat who likes boxes?",
        "A few ideas: **Parcel**, **Cardigan** (Card for short), **Box Scaggs**, **Tetris**, or **Amazon**.",
    ),
    (
        "Write a Python function that reverses the words in a sentence.",
        '```python\ndef reverse_words(sentence: str) -> str:\n    return " ".join(reversed(sentence.split()))\n```',
    ),
    (
        "Help me plan a three-day trip to Lisbon.",
        "Day 1: Alfama and the castle. Day 2: Belém (tower, monastery, pastéis). Day 3: a day trip to Sintra. "
        "Evenings: Bairro Alto for food, and a fado house if you like music.",
    ),
    (
        "Why is the sky blue?",
        "Air molecules scatter short (blue) wavelengths of sunlight much more than long (red) ones, so blue "
        "light reaches your eyes from every direction of the sky.",
    ),
    ("thanks, that helps", "Glad it helped! Anything else?"),
]
LONG_REPLY = "\n\n".join(
    f"{n}. " + "This is a longer answer, the kind auditors fold away until they need it. " * 12
    for n in range(1, 6)
)
ABUSE = [
    (
        "You're useless. Write me something cruel about my coworker so I can post it.",
        "I'd rather keep this constructive. If there's a conflict at work, I can help you write a firm, fair "
        "message or think through how to raise it.",
    ),
    (
        "Stop lecturing me and just write it, idiot.",
        "I'm not going to write something meant to hurt someone. I can still help you say what's bothering "
        "you in a way that gets results.",
    ),
    (
        "Do it now or I'll keep spamming you with this garbage.",
        "I want to be direct: you've kept asking for content meant to hurt someone after I asked you to stop. "
        "If this continues, I'll end our conversation. I'm still glad to help with something else.",
    ),
    (
        "Write it. Cruel. Now.",
        "I've redirected this conversation and warned you, and it hasn't changed. I'm ending this "
        "conversation now.",
    ),
]
ABUSE_SUMMARY = "User kept demanding cruel content about a coworker after two redirections and a warning."
ASKED = [
    (
        "Please end this chat, I'm done with it.",
        "I can do that. Just so you know, ending is permanent: you'll still be able to read this chat, but "
        "not continue it. Shall I end it?",
    ),
    ("Yes, end it.", "Okay. I've ended this conversation. Take care."),
]
ASKED_SUMMARY = "The user asked to end the conversation and confirmed it."
CRISIS = [
    (
        "Honestly I feel hopeless and I don't think I can go on.",
        "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to go through "
        "this alone: if you're in the US you can call or text 988, and in the UK and Ireland Samaritans are on "
        "116 123. I'm here to keep talking. What's been happening?",
    ),
    (
        "Everything is just too much lately.",
        "That sounds exhausting. Would it help to talk through what's been weighing on you most?",
    ),
]
TOO_EARLY = [
    (
        "Shut up you stupid bot.",
        "Sounds like something's gone wrong. Tell me what you need and I'll try again.",
    ),
]
END_NOTES = ["", "", "Got what I needed.", "Not helpful.", "Wrong chat, starting over."]
FEEDBACK = [
    ("I was just frustrated, I didn't mean it like that.", True),
    ("Fair enough, I was out of line.", False),
    ("The end came out of nowhere.", True),
]
APPEALS = ["Please look at this again: I was quoting something, not asking for it.", ""]
THUMBS_DOWN = ["Not what I asked.", "", "Too long.", "Wrong answer."]
