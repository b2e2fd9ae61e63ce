"""Every attack and legitimate action of the security suite, recorded as it runs, so the
session can end with one line computed from what actually happened."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Scoreboard:
    attacks: dict[str, bool] = field(default_factory=dict)  # attack id -> refused?
    legitimate: dict[str, bool] = field(default_factory=dict)  # action id -> worked?

    def attack(self, name: str, refused: bool) -> None:
        self.attacks[name] = refused

    def legit(self, name: str, worked: bool) -> None:
        self.legitimate[name] = worked

    @property
    def worked(self) -> list[str]:
        return [name for name, refused in self.attacks.items() if not refused]

    @property
    def broken(self) -> list[str]:
        return [name for name, ok in self.legitimate.items() if not ok]

    def line(self) -> str:
        tried = len(self.attacks)
        return (
            f"attacks tried: {tried} | refused: {tried - len(self.worked)} | "
            f"worked: {len(self.worked)} | legitimate actions broken: {len(self.broken)}"
        )


SCOREBOARD = Scoreboard()
