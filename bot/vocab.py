"""The product's words: interaction kinds, tiers, relationship stages, directions."""

from __future__ import annotations

KINDS: tuple[str, ...] = (
    "meeting",
    "call",
    "email",
    "qbr",
    "demo",
    "support",
    "complaint",
    "other",
)
TIERS: tuple[str, ...] = ("A", "B", "C")
DIRECTIONS: dict[str, str] = {"better": "Better", "same": "Same", "worse": "Worse"}
STAGES: dict[str, str] = {
    "calculative": "Calculative: contract and risk minimising",
    "knowledge-based": "Knowledge-based: predictable, we know each other",
    "identification-based": "Identification-based: shared values and goals",
    "affective": "Affective: care, an emotional bond",
    "institutional": "Institutional: belief in our organisation as a whole",
}
RATINGS: dict[int, str] = {
    1: "1 · eroding",
    2: "2 · shaky",
    3: "3 · steady",
    4: "4 · good",
    5: "5 · strong",
}
SOURCES: tuple[str, ...] = ("slash_command", "shortcut", "webhook", "import")
