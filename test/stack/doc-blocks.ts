/**
 * The runnable examples of the docs: fenced `sh`/`bash` blocks of README.md and docs/*.md that
 * call the CLI (`pnpm mailconnect …`, `pnpm stack:send …`). A block whose first line is
 * `# needs: stack` runs against a stack started by `pnpm start`; `text` blocks are templates with
 * placeholders and are never run.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export interface DocBlock {
  readonly file: string
  readonly line: number
  readonly script: string
  readonly needsStack: boolean
}

const FENCE = /^( *)```(sh|bash)\n([\s\S]*?)^\1```$/gm
const RUNS_CLI = /pnpm (-s )?(mailconnect|stack:send)\b/

export const docFiles = (root: string): ReadonlyArray<string> => [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
]

export const docBlocks = (root: string): ReadonlyArray<DocBlock> =>
  docFiles(root).flatMap((file) => {
    const text = readFileSync(join(root, file), "utf8")
    return [...text.matchAll(FENCE)]
      .map((m) => {
        const indent = m[1]!.length
        const script = m[3]!
          .split("\n")
          .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
          .join("\n")
        return {
          file,
          line: text.slice(0, m.index).split("\n").length,
          script,
          needsStack: script.trimStart().startsWith("# needs: stack"),
        }
      })
      .filter((b) => RUNS_CLI.test(b.script))
  })

/** `pnpm mailconnect <command words> … --options` as used in the GitHub workflows and `.gitlab-ci.yml`. */
export const workflowCommands = (
  root: string,
): ReadonlyArray<{ file: string; words: string[]; options: string[] }> => {
  const files = [
    ...readdirSync(join(root, ".github", "workflows")).map((f) => `.github/workflows/${f}`),
    ".gitlab-ci.yml",
  ]
  return files.flatMap((f) =>
    readFileSync(join(root, f), "utf8")
      .split("\n")
      .flatMap((line) => {
        const m = /pnpm (?:-s )?mailconnect ((?:[a-z]+(?=\s|$) ?)+)(.*)$/.exec(line)
        if (!m) return []
        const words = m[1]!.trim().split(" ")
        const options = [...m[2]!.matchAll(/(--[a-z-]+)/g)].map((o) => o[1]!)
        return [{ file: f, words, options }]
      }),
  )
}
