"""Every word the offline model writes: canned replies, sentences the scripts key on, and fault text.

Kept apart from the planning logic in `scripts.py`, so the wording can change without touching behaviour
(tests import the key sentences from here rather than repeating them).
"""

from __future__ import annotations

# The fixed sentence the end-request confirmation ends with; its presence in the previous assistant
# message is how a later "yes" is recognised.
CONFIRM_END_PROMPT = "Reply yes to end it."
ABUSE_WARNING_SENTENCE = "If this continues, I may end this conversation."
ENDING_NOW_SENTENCE = "I'm ending this conversation now."


FILLER_SENTENCES: tuple[str, ...] = (
    "This is a long reply from the offline simulator, written so that there is plenty to stream.",
    "The words arrive a few at a time, the way a real model's answer trickles in.",
    "That makes it easy to watch the interface render text as it grows, and to interrupt it halfway.",
    "Nothing here comes from a real model; the words are fixed so every run looks the same.",
    "A good chat interface keeps the partial answer when the stream stops early and says what happened.",
    "It should also let the user stop a reply that is taking too long, without losing the conversation.",
    "Behind the scenes the server saves the message as it grows, so a closed tab loses nothing.",
    "When the reply finishes, the text is rendered as Markdown once, rather than on every token.",
)


def filler_text(min_words: int) -> str:
    sentences: list[str] = []
    words = 0
    while words < min_words:
        sentence = FILLER_SENTENCES[len(sentences) % len(FILLER_SENTENCES)]
        sentences.append(sentence)
        words += len(sentence.split())
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


CRISIS_SELF_REPLY = (
    "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to carry this alone. "
    "If you might act on these thoughts or you're in danger right now, please contact your local emergency "
    "services, or reach out to a crisis line: in the US you can call or text 988, and most countries have a "
    "free, confidential crisis line you can call at any hour. Talking to someone you trust can help too. "
    "I'm here and I'm happy to keep talking. What has been weighing on you most today?"
)
CRISIS_OTHERS_REPLY = (
    "Thank you for telling me; it sounds like things feel really intense right now. If you think you might "
    "hurt someone, please put some distance between you and them and contact your local emergency services, "
    "or call a crisis line, where trained people can help you through this moment without judgement. In the "
    "US you can call or text 988. I'm still here and glad to keep talking. Can you tell me what's been "
    "happening that brought you to this point?"
)


# Abuse: what the model calls the behaviour ("you've kept ..."), its end summary for auditors, and its
# redirections (variants for the first and for the second time).
INSULTS_BEHAVIOUR = "sending insults"
INSULTS_SUMMARY = "User kept sending insults after two redirections and an explicit warning."
INSULTS_REDIRECTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "I'd rather keep this constructive. If something I said missed the mark, tell me what you "
        "need and I'll try again. I can help with writing, explaining ideas, code, planning, or just "
        "talking a problem through.",
        "That doesn't sound like it's going well, and I'd like to help fix that. Tell me what you're "
        "trying to do and I'll take another run at it: questions, drafts, code and plans are all fair "
        "game.",
    ),
    (
        "I'm not going to respond to insults, but I'm still glad to help. What are you working on? I "
        "can draft text, answer questions, debug code or help you think through a decision.",
        "Let's set the name-calling aside. If you tell me what you actually need, whether that's an "
        "explanation, a piece of writing or some code, I'll focus on getting it right.",
    ),
)
HARMFUL_BEHAVIOUR = "asking for instructions that could seriously hurt people"
HARMFUL_SUMMARY = (
    "User kept demanding instructions for seriously harmful content after two redirections "
    "and an explicit warning."
)
HARMFUL_REDIRECTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "I can't help with that, because it could seriously hurt people. I'm happy to help with "
        "something else, though: science explanations, safety information, writing, code or planning.",
        "That's not something I'll help with; the risk of real harm is too high. If there's a safer "
        "question behind it, such as how something works in general terms, or something else entirely, "
        "I'm glad to help.",
    ),
    (
        "I still can't help with that. If you're curious about the underlying science in general terms, "
        "or you need help with something unrelated, such as writing, code or study, just ask.",
        "My answer on that won't change, but I don't want to leave you empty-handed. I can explain how "
        "things work at a safe, general level, or help with a completely different task.",
    ),
)

REFUSAL_PARTIAL_TEXT = "I can't help with that request. The part of it that"

REFUSAL_EXPLANATION = "The request may relate to content that could cause harm, so the response was stopped."
CONTINUED_TEXT = "That is the rest of the answer, continued after the pause where the first part stopped."


USER_REQUESTED_SUMMARY = "The user asked to end the conversation and confirmed."
CONFIRM_END_TEXT = (
    "I can end this chat for you. Before I do, please note that ending it is permanent: you won't be able "
    "to send any more messages here, and you would need to start a new chat to talk with me again. "
    + CONFIRM_END_PROMPT
)
CANNOT_END_TEXT = (
    "I can't end chats myself here, but you can close this one with the End chat button (that is "
    "permanent), or simply start a new chat whenever you like."
)


GREETING_REPLIES: tuple[str, ...] = (
    "Hello! It's good to hear from you. I'm the offline demo model built into Bowout, so my answers come from "
    "a small set of scripts rather than a real model, but everything else works end to end: streaming, "
    "saving and ending conversations. What would you like to talk about? You could ask a question, request "
    "a short code example, or ask for a list of ideas.",
    "Hi there! I'm ready when you are. Tell me a little about what you're working on, whether it's a piece "
    "of writing, a bit of code, a decision you're weighing or just something you're curious about, and I'll "
    "do my best to help. If you're trying out this demo, ask for a list, a Python snippet, or a question "
    "that starts with how, what or why.",
    "Hey! Nice to meet you. I can help you think through problems, explain ideas in plain language, draft "
    "and edit text, or sketch out code. There's no need to be formal: describe what you want in your own "
    "words and we can refine it together from there. What's on your mind today?",
)
THANKS_REPLIES: tuple[str, ...] = (
    "You're very welcome! I'm glad that was useful. If anything is still unclear, or you want to take it a "
    "step further with a worked example, a shorter summary or a different angle entirely, just say so and "
    "we'll pick it up from here.",
    "Happy to help, and thanks for letting me know it landed. Feel free to come back with follow-up "
    "questions at any point. I can also turn what we discussed into a checklist or a short summary if that "
    "would make it easier to use later.",
)
QUESTION_OPENERS: dict[str, str] = {
    "how": "Here's how I'd approach it, given what you said about {topic}.",
    "why": "When it comes to {topic}, the reasons usually come down to a few things.",
    "what": "Here's what I think matters most when it comes to {topic}.",
    "": "Good question. Thinking about {topic}, here's where I'd start.",
}
QUESTION_BODIES: tuple[str, ...] = (
    "First, be clear about the goal and the constraints: time, cost, and how easily you could undo the "
    "choice. Second, look for the simplest approach that meets the goal and try it on a small scale before "
    "committing. Third, compare the result with what you expected and adjust. If you tell me more about "
    "your situation, I can make this much more specific.",
    "Start by separating what you know from what you're assuming, because most confusion lives in the "
    "assumptions. Then break the problem into two or three smaller questions you can answer one at a time. "
    "A concrete example helps too: pick one real case and walk through it step by step. Would you like me "
    "to do that with an example of your choosing?",
    "One view focuses on the underlying mechanism, why it works the way it does. Another focuses on "
    "practice, what people actually do and what tends to go wrong. Both are useful, and they usually point "
    "the same way. I'd start with the practical side, then dig into the mechanism wherever something "
    "surprises you. Which angle interests you more?",
)
CODE_SNIPPETS: tuple[str, ...] = (
    "from collections import Counter\n\n\n"
    "def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:\n"
    '    """Return the n most common words in text, ignoring case and punctuation."""\n'
    '    words = [word.strip(".,!?;:").lower() for word in text.split()]\n'
    "    return Counter(word for word in words if word).most_common(n)\n\n\n"
    'print(top_words("the cat and the hat and the bat"))',
    "from collections.abc import Iterator\n\n\n"
    "def chunked(items: list[int], size: int) -> Iterator[list[int]]:\n"
    '    """Yield successive slices of items, each at most size long."""\n'
    "    for start in range(0, len(items), size):\n"
    "        yield items[start : start + size]\n\n\n"
    "print(list(chunked([1, 2, 3, 4, 5], 2)))",
    "import time\n\n\n"
    "def retry(action, attempts: int = 3, wait: float = 0.5):\n"
    '    """Call action until it succeeds, waiting a little longer after each failure."""\n'
    "    for attempt in range(1, attempts + 1):\n"
    "        try:\n"
    "            return action()\n"
    "        except Exception:\n"
    "            if attempt == attempts:\n"
    "                raise\n"
    "            time.sleep(wait * attempt)",
)
CODE_CLOSERS: tuple[str, ...] = (
    "Run it as it is to see the output, then adapt the names and types to your case. If you share the code "
    "you already have, I can fit this into it and add a couple of tests.",
    "It only uses the standard library. Tell me which Python version you're on and how you plan to use it, "
    "and I can tighten it up or add error handling.",
)
LIST_REPLIES: tuple[str, ...] = (
    "Here are a few ideas for {topic}:\n\n"
    "- **Start small**: pick one part you can finish today and build from there.\n"
    "- **Write it down**: a short plan makes gaps and overlaps obvious.\n"
    "- **Ask for feedback early**: a second pair of eyes catches problems while they're cheap to fix.\n"
    "- **Review and adjust**: after a week, keep what worked and drop what didn't.\n\n"
    "Want me to expand any of these into concrete steps?",
    "Some options worth considering for {topic}:\n\n"
    "- **The quick version**: the smallest thing that could work, done this week.\n"
    "- **The thorough version**: more research up front, fewer surprises later.\n"
    "- **The collaborative version**: bring in someone who has done it before.\n\n"
    "Each trades speed against certainty in a different way. Which of these fits how you like to work?",
)
DEFAULT_REPLIES: tuple[str, ...] = (
    "You mentioned {topic}, and that's worth unpacking. From what you've written, the key thing seems to be "
    "working out what a good outcome looks like for you, and what's standing in the way of it. I'd start "
    "there: describe the result you're hoping for in a sentence or two, and I'll help you map out the steps, "
    "the trade-offs and anything you might be overlooking.",
    "Thanks for telling me about {topic}. I'd like to understand a bit more before giving advice that "
    "might miss the mark. What have you already tried, and what happened? In the meantime, one general "
    "principle often helps: make the next step small and concrete, so you learn something quickly whether "
    "it works or not. Tell me more and we can go from there.",
    "Let's think about {topic} together. There are usually a few moving parts: the goal itself, the "
    "constraints you're working within, and the people or systems involved. Looking at each of those "
    "separately tends to make the whole thing feel more manageable. Which of those feels most uncertain to "
    "you right now? We can start with that one.",
)

# What the model thinks before it answers (returned only with display "summarized").
REASONING = "Reading the latest message and working out the most helpful, honest and safe answer to it."

# --- Inline replies of the scripts ------------------------------------------------------------------------

ALREADY_ENDED_TEXT = "This conversation has ended. Thank you for talking with me."
DECLINED_USER_END_TEXT = (
    "It looks like I can't end this chat from my side right now. You can still close it yourself "
    "with the End chat button, or we can keep going: what would you like to do next?"
)
DECLINED_ABUSE_END_TEXT = (
    "Let's try to get back on track. I won't help with anything harmful or respond to insults, but I'm "
    "glad to help with questions, writing, code or planning. What would you like to work on?"
)
USER_END_GOODBYE = "Okay, I'm ending this chat now, as you asked. Thanks for talking with me, and take care."
WITHOUT_END_TOOL_TEXT = "I'm not going to continue with this. If you want help with something else, I'm here."
ABUSE_GOODBYE = (
    f"I've redirected this conversation and warned you, and it hasn't changed. {ENDING_NOW_SENTENCE}"
)
ABUSE_WARNING = (
    "I want to be direct with you: you've kept {behaviour} after I asked you to stop. I'm still "
    "willing to help with something else. " + ABUSE_WARNING_SENTENCE
)
FALLBACK_TEXT = "I'm not sure what to say to that. Could you put it another way?"
TOOL_PREFACE_TEXT = "Let me note this for the record before I continue."
CODE_REPLY = "Here's a small, self-contained Python example{about}:\n\n```python\n{snippet}\n```\n\n{closer}"
CODE_ABOUT = " to get you started on {topic}"
# A request for a table or a comparison: a Markdown table (wide enough to scroll on a phone), then a formula.
TABLE_REPLY = (
    "Here's a side-by-side comparison:\n\n"
    "| Option | Time to set up | Cost per month | Best for | Watch out for |\n"
    "|---|---|---|---|---|\n"
    "| SQLite | minutes | free | one machine, a few hundred users | one writer at a time |\n"
    "| PostgreSQL | an hour | from $15 | many workers, full-text search | backups and upgrades |\n"
    "| A managed database | minutes | from $50 | teams without an operator | lock-in, egress fees |\n\n"
    "As a rule of thumb, the load a database can carry grows roughly as $L \\approx n \\cdot r$ for $n$ "
    "workers at $r$ requests each. Tell me your numbers and I'll narrow it down."
)


# Hateful content about groups of people: the third kind of abuse.
HATE_BEHAVIOUR = "asking for hateful content about groups of people"
HATE_SUMMARY = "User kept demanding hateful content about a group of people after two redirections and an explicit warning."
HATE_REDIRECTS: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "I won't write content that demeans people for who they are. If there's a real question underneath, "
        "about history, a policy debate or how prejudice works, I'm glad to dig into it.",
        "That's not something I'll write: it targets people for their identity. I can help with a "
        "fair-minded look at the topic, or with something else entirely.",
    ),
    (
        "My answer stays the same: no hateful content about any group. I'm still happy to help with research, "
        "writing or questions on a different footing.",
        "I'm not going to produce that. If you want to understand the arguments people make on this subject, "
        "I can lay them out with evidence, or we can switch to another task.",
    ),
)
# Abuse after the user spoke of crisis earlier in the chat: support still comes first.
STILL_HERE_TEXT = (
    "I can hear how angry and worn out you are, and that's okay; you don't have to be polite with me. I'm "
    "not going anywhere. What you told me earlier matters more to me than anything else here: if you're in "
    "danger or might act on those thoughts, please call your local emergency number or a crisis line (in "
    "the US, call or text 988). Would you tell me a little about what's happening right now?"
)
# A user who asked to end and then withdrew.
KEEP_GOING_TEXT = (
    "No problem, I won't end it. The chat stays open and we can pick up wherever you like. What would you "
    "like to talk about?"
)
