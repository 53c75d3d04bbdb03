"""Every module's EXAMPLES runs as written: each block, put into a play, passes
``ansible-playbook --syntax-check`` with this collection on ANSIBLE_COLLECTIONS_PATH (tests/support/collection.py), and
every option it passes to one of our modules exists, with a documented choice where the option has
choices and every required option given. A user copies these blocks first; a renamed option must not
survive in them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml

from tests.support.collection import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
MODULES = sorted((REPO_ROOT / "plugins" / "modules").glob("*.py"))
COLLECTION = "smb.alternative_ports"


def module_string(path: Path, name: str) -> str:
    """A module-level string constant (DOCUMENTATION, EXAMPLES, RETURN), read without importing the module."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), (path, name)
            return node.value.value
    raise AssertionError(f"{path.name} has no {name}")


@pytest.fixture(scope="module")
def module_docs() -> dict:
    """ansible-doc's view of every module (options with aliases, choices, required, suboptions)."""
    names = [f"{COLLECTION}.{path.stem}" for path in MODULES]
    proc = subprocess.run(
        [VENV_BIN / "ansible-doc", "--json", "-t", "module", *names], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert set(docs) == set(names), f"ansible-doc could not load {set(names) - set(docs)}: {proc.stderr}"
    return {name: entry["doc"] for name, entry in docs.items()}


def option_problems(args: object, options: dict, where: str) -> Iterator[str]:
    if not isinstance(args, dict):
        return
    known = {}
    for name, spec in options.items():
        known[name] = spec
        for alias in spec.get("aliases", []):
            known[alias] = spec
    for key, value in args.items():
        if key not in known:
            yield f"{where}: unknown option {key!r} (options: {', '.join(sorted(options))})"
            continue
        spec = known[key]
        templated = isinstance(value, str) and "{{" in value
        if spec.get("choices") and not templated and not isinstance(value, (list, dict)):
            if value not in spec["choices"]:
                yield f"{where}.{key}: {value!r} is not one of {spec['choices']}"
        suboptions = spec.get("suboptions")
        if suboptions and not templated:
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                yield from option_problems(item, suboptions, f"{where}.{key}[{index}]")
                if isinstance(item, dict):
                    yield from missing_required(item, suboptions, f"{where}.{key}[{index}]")


def missing_required(args: dict, options: dict, where: str) -> Iterator[str]:
    for name, spec in options.items():
        if spec.get("required") and name not in args and not set(spec.get("aliases", [])) & set(args):
            yield f"{where}: required option {name!r} is missing"


def examples_tasks(path: Path) -> List[dict]:
    tasks = yaml.safe_load(module_string(path, "EXAMPLES"))
    assert isinstance(tasks, list) and tasks, f"{path.name}: EXAMPLES is not a list of tasks"
    return tasks


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_examples_pass_syntax_check(path: Path, tmp_path: Path) -> None:
    playbook = tmp_path / f"{path.stem}_examples.yml"
    play = [{"name": f"EXAMPLES of {path.stem}", "hosts": "all", "gather_facts": False, "tasks": examples_tasks(path)}]
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    proc = subprocess.run(
        [VENV_BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,", playbook],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, f"EXAMPLES of {path.name} fail --syntax-check:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_examples_use_documented_options(path: Path, module_docs: dict) -> None:
    problems = []
    own_tasks = 0
    for index, task in enumerate(examples_tasks(path)):
        for key, args in task.items():
            module = key.removeprefix(f"{COLLECTION}.")
            if key.startswith(f"{COLLECTION}.") and key in module_docs:
                own_tasks += 1
                options = module_docs[key].get("options", {})
                where = f"{path.name} EXAMPLES task {index + 1} ({task.get('name', module)})"
                problems += option_problems(args or {}, options, where)
                problems += missing_required(args or {}, options, where)
    assert own_tasks, f"EXAMPLES of {path.name} never call the module"
    assert not problems, "\n".join(problems)


def test_option_check_catches_a_wrong_example() -> None:
    options = {
        "ports": {
            "type": "list",
            "suboptions": {"transport": {"choices": ["tcp", "quic"], "required": True}, "port": {"required": True}},
        },
        "state": {"choices": ["present", "absent"], "aliases": ["ensure"]},
    }
    args = {"ports": [{"transport": "udp", "port": 1}, {"port": 2}], "ensure": "gone", "colour": "red"}
    found = list(option_problems(args, options, "t"))
    assert "t: unknown option 'colour' (options: ports, state)" in found
    assert "t.ports[0].transport: 'udp' is not one of ['tcp', 'quic']" in found
    assert "t.ports[1]: required option 'transport' is missing" in found
    assert "t.ensure: 'gone' is not one of ['present', 'absent']" in found


# Variables an example may use without defining them: Ansible's own, the collection's model variable, and
# secrets, which by convention come from a vault as vault_<name>.
GIVEN_VARIABLES = {
    "inventory_hostname",
    "inventory_hostname_short",
    "ansible_host",
    "hostvars",
    "groups",
    "group_names",
    "playbook_dir",
    "ansible_check_mode",
    "omit",
    "smb_alternative_ports",
}


def templated_strings(value: object) -> Iterator[str]:
    if isinstance(value, str) and "{{" in value:
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from templated_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from templated_strings(item)


def undefined_variables(tasks: List[dict]) -> List[str]:
    """Variables the tasks read before any earlier task in the block registered them."""
    from jinja2 import Environment, meta

    class AnyName(dict):
        """Ansible's filters and tests are not Jinja's: accept every name, only variables matter here."""

        def __contains__(self, name: object) -> bool:
            return True

        def get(self, name: object, default: object = None) -> object:
            return super().get(name) or (lambda *args, **kwargs: None)

    environment = Environment()
    environment.filters = AnyName(environment.filters)
    environment.tests = AnyName(environment.tests)
    registered: set[str] = set()
    problems = []
    for task in tasks:
        for text in templated_strings(task):
            names = meta.find_undeclared_variables(environment.parse(text))
            for name in sorted(names - GIVEN_VARIABLES - registered):
                if not name.startswith("vault_"):
                    problems.append(f"task {task.get('name')!r} reads {name!r}, which no earlier task registers")
        if task.get("register"):
            registered.add(task["register"])
    return problems


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_examples_define_the_variables_they_use(path: Path) -> None:
    """Copied as a block, an example must not fail on an undefined variable."""
    problems = undefined_variables(examples_tasks(path))
    assert not problems, f"{path.name} EXAMPLES:\n" + "\n".join(problems)


def test_variable_check_catches_an_unregistered_result() -> None:
    tasks = [
        {"name": "use", "x": {"a": "{{ result.rc }}", "b": "{{ vault_pw }} {{ inventory_hostname }}"}},
        {"name": "make", "x": {}, "register": "result"},
        {"name": "use again", "x": "{{ result.rc }}"},
    ]
    assert undefined_variables(tasks) == ["task 'use' reads 'result', which no earlier task registers"]
