"""The install/training output filter: known-harmless warnings hidden whole, everything else
(errors above all) shown unchanged, and the command's exit code kept under pipefail."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from clinic.paths import PROJECT_ROOT
from scripts.quiet_output import HARMLESS, quiet_lines

SITE = "/work/main/.venv/lib/python3.10/site-packages"
COLOUR, RESET = "\x1b[93m", "\x1b[0m"

# As `make install` and `make train` print them on this machine (/tmp/install.log, train.log).
HARMLESS_OUTPUT = [
    "WARNING: Location 'file:///opt/pypi-more/simple/pip/' is ignored: it is neither a file "
    "nor a directory.\n",
    f"{SITE}/rasa/shared/utils/validation.py:134: DeprecationWarning: pkg_resources is "
    "deprecated as an API. See https://setuptools.pypa.io/en/latest/pkg_resources.html\n",
    "  import pkg_resources\n",
    f"{SITE}/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call to "
    "`pkg_resources.declare_namespace('ruamel')`.\n",
    "Implementing implicit namespace packages (as specified in PEP 420) is preferred to "
    "`pkg_resources.declare_namespace`. See https://setuptools.pypa.io/en/latest/references/"
    "keywords.html#keyword-namespace-packages\n",
    "  declare_namespace(pkg)\n",
    f"{SITE}/tensorflow/lite/python/util.py:52: DeprecationWarning: jax.xla_computation is "
    "deprecated. Please use the AOT APIs.\n",
    "  from jax import xla_computation as _xla_computation\n",
    f"{COLOUR}{SITE}/rasa/shared/utils/io.py:100: UserWarning: The utterance 'utter_iamabot' "
    "is not used in any story or rule.\n",
    f"{RESET}{SITE}/matplotlib/fontconfig_pattern.py:66: PyparsingDeprecationWarning: "
    "'setParseAction' deprecated - use 'set_parse_action'\n",
    "  ).setParseAction(self._family)\n",
    f"{SITE}/typer/__init__.py:25: DeprecationWarning: 'click.utils.get_binary_stream' is "
    "deprecated and will be removed in Click 9.0.\n",
    "  from click.utils import get_binary_stream as get_binary_stream\n",
    f"{SITE}/spacy/cli/_util.py:11: DeprecationWarning: Importing 'parser.split_arg_string' is "
    "deprecated, it will only be available in 'shell_completion' in Click 9.0.\n",
    "  from click.parser import split_arg_string\n",
    f"{COLOUR}{SITE}/rasa/shared/utils/io.py:100: UserWarning: You have defined training data "
    "consisting of entity examples, but your NLU configuration does not include an entity "
    "extractor trained on your training data. To extract non-pretrained entities, add one of "
    "MitieEntityExtractor, CRFEntityExtractor, DIETClassifier to your configuration.\n",
    "  More info at https://rasa.com/docs/rasa/components\n",
    f"{RESET}{COLOUR}{SITE}/rasa/shared/utils/io.py:100: UserWarning: You have defined "
    "synonyms in your training data, but your NLU configuration does not include an "
    "'EntitySynonymMapper'. To map synonyms, add an 'EntitySynonymMapper' to your "
    "configuration.\n",
    "  More info at https://rasa.com/docs/rasa/components\n",
]

SHOWN_OUTPUT = [
    "==> [2/3] Installing the pinned requirements (typically 3-6 minutes on a fresh machine)\n",
    "ERROR: Could not find a version that satisfies the requirement rasa==9.9\n",
    "Traceback (most recent call last):\n",
    '  File "x.py", line 1, in <module>\n',
    "error: knowledge/clinic.yml:18: opening_hours.saturday: must be 'HH:MM-HH:MM'\n",
    f"{SITE}/rasa/core/x.py:1: UserWarning: Slot 'treatments' is not used in any story.\n",
    "  something a new warning says\n",
    "WARNING: Location 'https://example.org/simple/' is ignored: it is neither a file nor "
    "a directory.\n",
    f"{RESET}\x1b[92mYour Rasa model is trained and saved at 'models/clinic.tar.gz'.{RESET}\n",
]


def test_every_harmless_warning_is_hidden_whole() -> None:
    counts: list[int] = []
    assert list(quiet_lines(HARMLESS_OUTPUT, counts)) == []
    assert sum(counts) == len(HARMLESS_OUTPUT) and len(counts) == 10


def test_everything_else_is_shown_unchanged_even_right_after_a_hidden_warning() -> None:
    mixed = []
    for shown in SHOWN_OUTPUT:
        mixed += [*HARMLESS_OUTPUT[1:3], shown]  # a hidden warning, then a line to show
    assert list(quiet_lines(mixed)) == SHOWN_OUTPUT


def test_every_pattern_says_why_it_is_harmless_and_is_needed() -> None:
    for harmless in HARMLESS:
        assert len(harmless.reason) > 30, harmless.pattern.pattern
        assert any(harmless.pattern.search(line.replace(COLOUR, "").replace(RESET, ""))
                   for line in HARMLESS_OUTPUT), harmless.pattern.pattern  # fmt: skip


@pytest.mark.parametrize("status", [0, 3])
def test_the_command_output_streams_through_and_its_exit_code_is_kept(status: int) -> None:
    command = (
        f"set -o pipefail; {{ echo {shlex.quote(HARMLESS_OUTPUT[0].strip())}; echo 'real error' >&2; "
        f"exit {status}; }} 2>&1 | {sys.executable} -m scripts.quiet_output"
    )
    done = subprocess.run(
        ["bash", "-c", command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == status
    assert done.stdout.splitlines()[0] == "real error"
    assert "(1 line of known-harmless warnings hidden" in done.stdout
    assert "is ignored" not in done.stdout


def test_a_line_of_colour_codes_alone_is_dropped_and_blank_lines_kept() -> None:
    lines = ["first\n", "\x1b[0m", "\n", "last\n"]
    assert list(quiet_lines(lines)) == ["first\n", "\n", "last\n"]
