"""README claims that the code can check: every environment variable the settings read is in its table."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_the_settings_read_is_documented():
    settings = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|int|float|bool|list)\(\s*"([A-Z0-9_]+)"', settings))
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, re.M))

    assert read, "no environment variables found in config/settings.py: has the way they are read changed?"
    assert read - documented == set(), "add these to the Configuration table in README.md"
    assert documented - read == set(), "the README documents variables the settings no longer read"
