"""Repair: turn greedy lines that leave some minimum short into lines that meet it.

The greedy (`construct.py`) covers the minimum demand line after line and can strand a few
unit-terms at the end: every line left may already carry the one service rotation its rule
allows, or every unit of that term may be at its maximum. Those rows are then short while
other rows of the same term have more lines than their minimum (a surplus). The repair
moves that surplus, one line at a time, by three moves tried in this order for each short
unit-term (u, t):

1. swap: a line whose unit in term t has a surplus takes u in term t instead, if the line
   still obeys every rule (checked exactly, cached per pattern);
2. add: a new line through (u, t), while the line count allows one;
3. recreate: one line with a surplus in term t is taken out and the beam prices the best
   line for what is then short (u in term t first); kept only when the total shortfall
   drops, so the repair never cycles.

Every move keeps every maximum, every lock and every rule, and lowers the total shortfall
by at least one, so it ends (at a plan, at a local optimum, or at its deadline).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from constraints.colgen.greedy_values import CLOSED, SCARCE, Price, Values
from constraints.patterns import Context, Pattern

Key = tuple[int | None, Pattern]  # (partial class index, or None for a generic line; pattern)
Row = tuple[str, int]

TARGET_VALUE = 3.0  # the short unit-term a recreate is for: worth more than any other row
NEED_VALUE = 1.0  # any other unit-term still short
RECREATE_TRIES = 12  # lines taken out and re-priced per short unit-term and pass


@dataclass
class Repaired:
    generic: dict[Pattern, int]
    classes: list[dict[Pattern, int]]


class _Book:
    """The lines as counts per (class, pattern), with their cover per unit-term."""

    def __init__(
        self, ctx: Context, generic: dict[Pattern, int], classes: list[dict[Pattern, int]]
    ) -> None:
        self.ctx = ctx
        self.counts: Counter[Key] = Counter()
        self.cover: Counter[Row] = Counter()
        for p, k in generic.items():
            self.put((None, p), k)
        for i, counts in enumerate(classes):
            for p, k in counts.items():
                self.put((i, p), k)
        self._usable: dict[Pattern, bool] = {}

    def put(self, key: Key, k: int) -> None:
        self.counts[key] += k
        if self.counts[key] == 0:
            del self.counts[key]
        for t, u in enumerate(key[1], 1):
            self.cover[(u, t)] += k

    def short(self) -> dict[Row, int]:
        ctx = self.ctx
        return {r: ctx.lo[r] - self.cover[r] for r in ctx.rows if self.cover[r] < ctx.lo[r]}

    def total_short(self) -> int:
        return sum(self.short().values())

    def surplus(self, row: Row) -> bool:
        return self.cover[row] > max(self.ctx.lo.get(row, 0), 0)

    def fits(self, p: Pattern) -> bool:
        """Every unit-term of p has room for one more line."""
        return all(self.cover[(u, t)] < self.ctx.hi.get((u, t), 0) for t, u in enumerate(p, 1))

    def usable(self, p: Pattern) -> bool:
        ok = self._usable.get(p)
        if ok is None:
            ok = self._usable[p] = self.ctx.usable(p)
        return ok

    def values(self, target: Row) -> Values:
        """Beam row values for what is short now, the target first, full rows closed."""
        ctx = self.ctx
        out: Values = {}
        for r in ctx.rows:
            room = ctx.hi[r] - self.cover[r]
            if room <= 0:
                out[r] = CLOSED
            elif r == target:
                out[r] = TARGET_VALUE
            elif self.cover[r] < ctx.lo[r]:
                out[r] = NEED_VALUE
            else:
                out[r] = -SCARCE / room
        return out

    def result(self) -> Repaired:
        generic: dict[Pattern, int] = {}
        classes: list[dict[Pattern, int]] = [{} for _ in self.ctx.classes]
        for (cls, p), k in sorted(self.counts.items(), key=lambda kv: (kv[0][0] or -1, kv[0][1])):
            (generic if cls is None else classes[cls])[p] = k
        return Repaired(generic, classes)


FULL_VALUE = -0.5  # a unit-term at its maximum, for the rescue's lines: another may leave it


def rescue_values(
    ctx: Context, generic: dict[Pattern, int], classes: list[dict[Pattern, int]]
) -> list[Values]:
    """Per unit-term still short, beam values for lines through it, for an integer master
    over these lines and those (`solver._rescue`): a full unit-term is only discouraged,
    since the integer master can move a line off it."""
    book = _Book(ctx, generic, classes)
    out = []
    for row in book.short():
        values = book.values(row)
        out.append({r: FULL_VALUE if v == CLOSED else v for r, v in values.items()})
    return out


def repair(
    ctx: Context,
    price: Price,
    generic: dict[Pattern, int],
    classes: list[dict[Pattern, int]],
    deadline: float,
    *,
    recreate: bool = True,
) -> Repaired:
    """Lines with as little shortfall as the moves reach before `deadline` (without
    `recreate`, only the cheap moves: swaps and adds)."""
    book = _Book(ctx, generic, classes)
    locks = [dict(c.lock) for c in ctx.classes]
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        short = book.short()
        for row in sorted(short, key=lambda r: -short[r]):
            if time.monotonic() >= deadline:
                break
            if book.cover[row] >= ctx.lo[row]:
                continue  # met by an earlier move of this pass
            if (
                _swap(book, row, locks)
                or _add(book, price, row)
                or (recreate and _recreate(book, price, row))
            ):
                progress = True
    return book.result()


def _swap(book: _Book, row: Row, locks: list[dict[int, str]]) -> bool:
    """One line moves from a surplus unit in term t to u, if it stays valid."""
    ctx = book.ctx
    u, t = row
    if u in ctx.six_month or book.cover[row] >= ctx.hi[row]:
        return False
    for key in list(book.counts):
        cls, p = key
        v = p[t - 1]
        if v == u or v in ctx.six_month or not book.surplus((v, t)):
            continue
        if cls is not None and t in locks[cls]:
            continue
        q = (*p[: t - 1], u, *p[t:])
        if book.usable(q):
            book.put(key, -1)
            book.put((cls, q), 1)
            return True
    return False


def _add(book: _Book, price: Price, row: Row) -> bool:
    """A new generic line through the short unit-term, while the line count allows it."""
    ctx = book.ctx
    lines = sum(k for (cls, _), k in book.counts.items() if cls is None)
    if lines >= ctx.max_generic:
        return False
    before = book.total_short()
    q = _best(price((), book.values(row), {}, CLOSED / 2))
    if q is None or not book.fits(q):
        return False
    book.put((None, q), 1)
    if book.total_short() < before:
        return True
    book.put((None, q), -1)
    return False


def _recreate(book: _Book, price: Price, row: Row) -> bool:
    """Take out one line with a surplus in term t and put back the beam's best line."""
    ctx = book.ctx
    u, t = row
    before = book.total_short()
    keys = [k for k in book.counts if k[1][t - 1] != u and book.surplus((k[1][t - 1], t))]
    # lines whose every unit-term has a surplus first: taking one out strands nothing
    keys.sort(key=lambda k: (sum(not book.surplus(r) for r in _rows(k[1])), -book.counts[k]))
    for key in keys[:RECREATE_TRIES]:
        cls, p = key
        lock = ctx.classes[cls].lock if cls is not None else ()
        book.put(key, -1)
        q = _best(price(lock, book.values(row), {}, CLOSED / 2))
        if q is not None and q != p and book.fits(q):
            book.put((cls, q), 1)
            if book.total_short() < before:
                return True
            book.put((cls, q), -1)
        book.put(key, 1)
    return False


def _rows(p: Pattern) -> list[Row]:
    return [(u, t) for t, u in enumerate(p, 1)]


def _best(found: list[tuple[Pattern, float]]) -> Pattern | None:
    return found[0][0] if found else None
