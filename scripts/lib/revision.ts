/**
 * The commit a run measured, for its report: `<short sha>`, or `<short sha>+dirty` when the
 * working tree had changes when the run started or when it ended, or HEAD moved meanwhile (a
 * process started late in the run, or a dev server that reloads, may run what changed).
 * Headline figures come only from runs labelled clean. The reports runs write themselves
 * (docs/bench-results/, the fault matrix's results) do not count as changes: a bench at S followed
 * by one at M in the same tree measures the same code.
 */
import { execSync } from "node:child_process";

/** Paths that hold only run outputs (git pathspecs, excluded from the dirty check). */
const REPORTS =
  "':(exclude)docs/bench-results' ':(exclude)scripts/faults/results.md' ':(exclude)scripts/faults/results.json'";

function state(root: string): { commit: string; dirty: boolean } {
  const git = (args: string) => execSync(`git ${args}`, { cwd: root }).toString().trim();
  return { commit: git("rev-parse --short HEAD"), dirty: git(`status --porcelain -- . ${REPORTS}`) !== "" };
}

/** Call at the start of a run; `label()` at its end gives the report's commit. */
export function startRevision(root: string): { label(): string } {
  const start = state(root);
  return {
    label() {
      const end = state(root);
      const dirty = start.dirty || end.dirty || end.commit !== start.commit;
      return dirty ? `${start.commit}+dirty` : start.commit;
    },
  };
}
