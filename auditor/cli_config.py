"""Flag values from ``AUDITOR_*`` environment variables and a project file ``.auditor.toml``.

Precedence: flags > ``AUDITOR_*`` variables > ``.auditor.toml`` (or ``--config PATH``) >
defaults. Every flag of a command has a variable: ``AUDITOR_`` and its long name in capitals,
dashes as underscores (``--fail-on`` is ``AUDITOR_FAIL_ON``). The file's keys are the long
names too (``fail-on`` or ``fail_on``); a ``[scan]``, ``[fix]`` or ``[ls]`` table holds keys
for that command alone. ``[policy]`` is a policy written inline (the keys of a policy
file, its ``[[policy.waivers]]`` among them; ``extends`` relative to the file). A list
flag (``--output``, ``--ignore``, ``--build-arg``) takes a TOML array, or a
comma-separated variable; flags given on the command line add to it.
Values reach argparse as its defaults, so the command line still wins.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.errors import UsageError
from auditor.inputs import MIB, InputKind, read_text

CONFIG_FILE = ".auditor.toml"
CONFIG = InputKind("config file", 1 * MIB, UsageError)
COMMANDS_WITH_CONFIG = ("scan", "fix", "ls")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env_name(action: argparse.Action) -> str:
    return "AUDITOR_" + action.dest.upper()


def flag_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The flags of a command (options with a value to set; not --help, --version)."""
    return [a for a in parser._actions if a.option_strings and a.dest not in ("help",)
            and not isinstance(a, argparse._VersionAction | argparse._HelpAction)]


def apply(parser: argparse.ArgumentParser, argv: Sequence[str],
          environ: Mapping[str, str]) -> None:
    """Set the chosen command's defaults from the config file and the environment."""
    command = next((a for a in argv if not a.startswith("-")), None)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = subs.choices.get(command) if command in COMMANDS_WITH_CONFIG else None
    if sub is None:
        return
    actions: dict[str, argparse.Action] = {}
    for a in flag_actions(sub):  # --verify before --no-verify: AUDITOR_VERIFY=1 verifies
        if a.dest != "config":
            actions.setdefault(a.dest, a)
    values: dict[str, Any] = {}
    path = _config_path(argv, environ)
    if path is not None:
        values.update(_from_file(path, str(command), actions, _all_dests(subs)))
    for dest, action in actions.items():
        raw = environ.get(env_name(action))
        if raw is not None:
            values[dest] = _convert(action, raw, env_name(action), from_env=True)
    sub.set_defaults(**values)


def _config_path(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.partition("=")[2]
    if environ.get("AUDITOR_CONFIG"):
        return environ["AUDITOR_CONFIG"]
    return CONFIG_FILE if os.path.isfile(CONFIG_FILE) else None


def _from_file(path: str, command: str, actions: dict[str, argparse.Action],
               known: set[str]) -> dict[str, Any]:
    text = read_text(path, CONFIG)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    except (RecursionError, ValueError):
        raise UsageError(f"config file {path} cannot be read as TOML") from None
    every = {a.replace("-", "_") for a in known}
    out: dict[str, Any] = {}
    for scope in (data, data.get(command, {})):
        if not isinstance(scope, dict):
            raise UsageError(f"config file {path}: [{command}] must be a table")
        for key, value in scope.items():
            dest = key.replace("-", "_")
            if scope is data and key in COMMANDS_WITH_CONFIG:
                continue
            if dest not in every:
                raise UsageError(f"config file {path}: {key!r} is no flag of auditor",
                                 tip="keys are the flags' long names, e.g. fail-on")
            if dest == "policy" and isinstance(value, dict):
                from auditor.policy.loader import policy_from_table

                out[dest] = policy_from_table(path, value, text)  # a Policy: the inline one
            elif dest in actions:
                out[dest] = _convert(actions[dest], value, f"config file {path}: {key}")
    return out


def _all_dests(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> set[str]:
    """Every flag of the commands a config file may configure (a key for one command in
    the top-level table is no error for the others)."""
    return {a.dest for name in COMMANDS_WITH_CONFIG for a in flag_actions(subs.choices[name])}


def _convert(action: argparse.Action, value: Any, where: str, from_env: bool = False) -> Any:
    """A value for ``action`` as argparse would have made it from the command line."""
    if action.nargs == 0:  # store_true / store_const
        if isinstance(value, str):
            if value.strip().lower() not in _TRUE + _FALSE:
                raise UsageError(f"{where} wants true or false, not {value!r}")
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise UsageError(f"{where} wants true or false")
        return action.const if value else action.default
    if isinstance(action, argparse._AppendAction):
        items = value.split(",") if isinstance(value, str) and from_env else value
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise UsageError(f"{where} wants a list of strings")
        return [i.strip() for i in items if i.strip()]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UsageError(f"{where} wants a single value")
    text = str(value)
    try:
        converted = action.type(text) if callable(action.type) else text
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {text!r} is not a valid value") from None
    if action.choices is not None and converted not in action.choices:
        raise UsageError(f"{where} wants one of {', '.join(map(str, action.choices))}, "
                         f"not {text!r}")
    return converted
