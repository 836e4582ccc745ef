"""The groups of the results tables as a type: everyone, a class, a stage, a direction, ...

A table row names its group as text (``all``, ``class=car``, ``stage=cn_passport_entry``,
``direction=KZ_to_CN``, ``green_channel=eligible``, ``day=weekend``): that is the CSV contract.
Inside the package a group is a :class:`Group`, made by the metrics layer and read back with
:meth:`Group.parse`; nothing else takes group names apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Kind = Literal["all", "class", "stage", "direction", "green_channel", "day"]
KINDS: tuple[Kind, ...] = ("all", "class", "stage", "direction", "green_channel", "day")


@dataclass(frozen=True)
class Group:
    """A group of the results tables: its kind and, except for everyone, which one."""

    kind: Kind
    value: str = ""

    @classmethod
    def parse(cls, name: str) -> "Group":
        """``"class=car"`` -> ``Group("class", "car")``; ``"all"`` -> everyone."""
        name = str(name)
        if name == "all":
            return cls("all")
        kind, separator, value = name.partition("=")
        if not separator or kind not in KINDS or kind == "all":
            raise ValueError(f"not a group name: {name!r} (expected 'all' or one of "
                             f"{', '.join(k + '=...' for k in KINDS[1:])})")
        return cls(kind, value)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}={self.value}"

    @property
    def label(self) -> str:
        """How a figure or a report names the group: ``car``, ``everyone``, ``KZ → CN``, ``weekends``."""
        if self.kind == "all":
            return "everyone"
        if self.kind == "green_channel":
            return "green-channel eligible" if self.value == "eligible" else "not eligible"
        if self.kind == "direction":
            return self.value.replace("_to_", " → ")
        if self.kind == "day":
            return f"{self.value}s"
        return self.value.replace("_", " ")


EVERYONE = Group("all")


def label(name: str) -> str:
    """The label of a group given by its table name."""
    return Group.parse(name).label


def kind(name: str) -> Kind:
    """The kind of a group given by its table name."""
    return Group.parse(name).kind


def of_kinds(names: Iterable[str], *kinds: Kind) -> list[str]:
    """The table names among ``names`` whose kind is one of ``kinds``, in order, once each."""
    return [name for name in dict.fromkeys(map(str, names)) if Group.parse(name).kind in kinds]
