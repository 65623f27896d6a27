"""What changed between two rulebooks: rules added, removed and changed, and other sections.

Rules are matched by id. A change lists the keys that differ (``when``, ``severity``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rulebook.fingerprint import rulebook_fingerprint
from rulebook.model import Rulebook

SECTIONS = ("applies_to", "taxonomy", "attributes", "params", "judgments", "scoring", "oversight")
METADATA = ("rulebook", "version", "title", "description", "guideline")


@dataclass
class RuleChange:
    rule_id: str
    changes: dict[str, tuple[Any, Any]]


@dataclass
class RulebookDiff:
    old_version: str
    new_version: str
    old_fingerprint: str
    new_fingerprint: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[RuleChange] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.old_fingerprint == self.new_fingerprint

    def summary(self) -> str:
        """One line: ``added A; removed B; changed C; sections changed: scoring`` (parts with nothing left out)."""
        parts = [
            f"{what} {', '.join(ids)}"
            for what, ids in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", [c.rule_id for c in self.changed]),
                ("sections changed:", self.sections),
                ("metadata changed:", [self._metadata_change(name) for name in self.metadata]),
            )
            if ids
        ]
        return "; ".join(parts) or "nothing that changes a score (formatting, comments or examples)"

    def _metadata_change(self, name: str) -> str:
        return f"version {self.old_version} → {self.new_version}" if name == "version" else name

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": {"version": self.old_version, "fingerprint": self.old_fingerprint},
            "new": {"version": self.new_version, "fingerprint": self.new_fingerprint},
            "added": self.added,
            "removed": self.removed,
            "changed": [
                {
                    "rule_id": c.rule_id,
                    "changes": {k: {"old": o, "new": n} for k, (o, n) in c.changes.items()},
                }
                for c in self.changed
            ],
            "sections_changed": self.sections,
            "metadata_changed": self.metadata,
        }


def diff_rulebooks(old: Rulebook, new: Rulebook) -> RulebookDiff:
    result = RulebookDiff(old.version, new.version, rulebook_fingerprint(old), rulebook_fingerprint(new))
    old_rules = {r.id: r.model_dump(mode="json") for r in old.rules}
    new_rules = {r.id: r.model_dump(mode="json") for r in new.rules}
    result.added = [rid for rid in new_rules if rid not in old_rules]
    result.removed = [rid for rid in old_rules if rid not in new_rules]
    for rid, new_rule in new_rules.items():
        old_rule = old_rules.get(rid)
        if old_rule is None:
            continue
        changes = {
            k: (old_rule.get(k), new_rule.get(k))
            for k in sorted(set(old_rule) | set(new_rule))
            if old_rule.get(k) != new_rule.get(k)
        }
        if changes:
            result.changed.append(RuleChange(rid, changes))
    old_dump, new_dump = old.model_dump(mode="json"), new.model_dump(mode="json")
    result.sections = [s for s in SECTIONS if old_dump.get(s) != new_dump.get(s)]
    result.metadata = [m for m in METADATA if old_dump.get(m) != new_dump.get(m)]
    return result
