"""The README's code runs as written (so the tour stays true to the API)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no python code block"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_command():
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quickstart, re.S)
    assert len(commands) == 2 and all(len(c.strip().splitlines()) == 1 for c in commands)
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1].strip() in ci
