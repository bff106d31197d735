"""README claims that the code can check: every environment variable Bowout reads is in its table."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# How a variable is read: config/env.py's helpers in the settings, or a module's own `..._ENV = "NAME"`
# constant (the simulator imports nothing of ours, so it reads its one switch itself).
READ = re.compile(r'(?:\benv_[a-z]+\(\s*|_ENV = )"([A-Z0-9_]+)"')


def test_every_environment_variable_bowout_reads_is_documented():
    sources = [ROOT / "config" / "settings.py", *sorted((ROOT / "chat").rglob("*.py"))]
    sources += sorted((ROOT / "simulator").rglob("*.py"))
    read = {name for path in sources for name in READ.findall(path.read_text())}
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, re.M))

    assert len(read) > 20, "few environment variables found: has the way they are read changed?"
    assert read - documented == set(), "add these to the Configuration table in README.md"
    assert documented - read == set(), "the README documents variables Bowout no longer reads"


# The pages issue 17 asks to show, each at 1280 px and 390 px in the light and the dark theme.
SHOWN_PAGES = (
    "empty-chat",
    "reply-with-code-and-table",
    "ended-chat",
    "crisis-panel",
    "search-results",
    "login",
)


def test_the_screenshots_cover_every_page_and_the_readme_shows_only_existing_ones():
    shots = ROOT / "docs" / "screenshots"
    expected = {
        f"{name}-{width}-{scheme}.png"
        for name in SHOWN_PAGES
        for width in (1280, 390)
        for scheme in ("light", "dark")
    }
    assert expected - {path.name for path in shots.glob("*.png")} == set(), "run `make screenshots`"

    shown = re.findall(r"!\[[^\]]+\]\((docs/screenshots/[^)]+)\)", (ROOT / "README.md").read_text())
    assert [path for path in shown if not (ROOT / path).is_file()] == []
    assert any("search-results" in path for path in shown), "the README shows search results"
