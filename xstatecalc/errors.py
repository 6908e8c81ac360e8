"""Exceptions raised by the library. The CLI maps them to exit codes."""

from __future__ import annotations


class XstateError(Exception):
    """Base class. Instances carry a message fit for a user."""


class InputError(XstateError):
    """A wrong invocation or unusable input: unknown CPU, invalid file (exit 2)."""


class ProfileError(InputError):
    """A CPU profile is invalid. The message names the file, key and line."""

    def __init__(self, source: str, where: str, problem: str, line: int | None = None):
        self.source, self.where, self.problem, self.line = source, where, problem, line
        loc = f"{source}:{line}" if line else source
        if where:
            from .yamltext import clip

            where = clip(where, 40)  # a path into the file is made of the file's own keys: a short piece of them
        super().__init__(f"{loc}: {where}: {problem}" if where else f"{loc}: {problem}")


class UnknownCpuError(InputError):
    def __init__(self, name: str, suggestions: list[str]):
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"unknown CPU {_token(name)}.{hint} Run 'xstatecalc cpus' for the list, or pass a profile file path."
        )
        self.name, self.suggestions = name, suggestions


class KernelVersionError(InputError):
    pass


class ImportFormatError(InputError):
    """A CPUID dump could not be turned into a profile."""


def _token(text) -> str:
    from .yamltext import token

    return token(text)
