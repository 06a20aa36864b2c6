"""Code references of the flag service: record a scan of a repository, and report which flags
the code uses, which keys it uses that Headway does not serve, and which flags no code reads."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import Field

from headway.flags import refstore
from headway.flags import store as rows
from headway.flags.refs import Scan
from headway.flags.writing import FlagWriter, NotFound
from headway.result import Result

__all__ = ["FlagReferences", "ReferenceCommands", "ReferenceReport"]


class FlagReferences(Result):
    flag: str
    known: bool = Field(description="Whether Headway serves a flag of this key (not archived).")
    references: list[str] = Field(description="`path:line` of every use, by path and line.")


class ReferenceReport(Result):
    """The newest scan of one repository, read against the flags Headway serves."""

    repository: str
    commit: str | None = Field(description="The git commit scanned; null outside git.")
    scanned_at: datetime
    files: int = Field(description="Files read (of the languages the patterns cover).")
    flags: list[FlagReferences] = Field(description="Every key the code uses, by key.")
    unknown: list[str] = Field(description="Keys the code uses that Headway does not serve.")
    unused: list[str] = Field(
        description="Flags no repository's newest scan uses (every repository scanned counts)."
    )
    skipped: list[str] = Field(default_factory=list, description="Files too large to read.")


class ReferenceCommands(FlagWriter):
    def record_references(self, repository: str, scan: Scan, *, actor: str) -> ReferenceReport:
        """Store `scan` as `repository`'s newest and report it."""
        with self.store.transaction() as tx:
            refstore.insert_scan(tx, repository, scan, actor, self.clock())
        report = self.reference_report(repository)
        return report.model_copy(update={"skipped": list(scan.skipped)})

    def reference_report(self, repository: str) -> ReferenceReport:
        scan = refstore.latest_scan(self.store, repository)
        if scan is None:
            raise NotFound(
                f"repository '{repository}' was never scanned; run `headway flags refs PATH`"
            )
        served = {f.key for f in rows.load_flags(self.store)}
        used: dict[str, list[str]] = defaultdict(list)
        for _, ref in refstore.scan_references(self.store, [scan.id]):
            used[ref.flag].append(str(ref))
        anywhere = set(self.code_references())
        return ReferenceReport(
            repository=repository,
            commit=scan.commit,
            scanned_at=scan.scanned_at,
            files=scan.files,
            flags=[
                FlagReferences(flag=key, known=key in served, references=used[key])
                for key in sorted(used)
            ],
            unknown=sorted(set(used) - served),
            unused=sorted(served - anywhere),
        )

    def code_references(self) -> dict[str, list[str]]:
        """Flag key → `repository:path:line` of each use in every repository's newest scan."""
        scans = {s.id: s.repository for s in refstore.latest_scans(self.store)}
        found: dict[str, list[str]] = defaultdict(list)
        for scan_id, ref in refstore.scan_references(self.store, list(scans)):
            found[ref.flag].append(f"{scans[scan_id]}:{ref}")
        return dict(found)
