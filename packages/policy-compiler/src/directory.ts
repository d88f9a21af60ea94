/**
 * The compiler's edge: reads a policy directory through @effect/platform's FileSystem and
 * hands the texts to the pure core. YAML files are policy documents; `.pem`/`.crt`/`.cer`
 * files are certificates a partner may refer to. Hidden entries are skipped. "Now" comes from
 * Effect's Clock unless given, so tests run against a TestClock or a fixed date.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Effect } from "effect"
import { type CompileResult, compileSources } from "./compile"
import { PolicyDirectoryUnreadable } from "./errors"
import type { SourceText } from "./source/parse"

export interface CompileOptions {
  readonly strict?: boolean
  readonly now?: Date
}

const YAML = /\.ya?ml$/i
const CERTIFICATE = /\.(pem|crt|cer)$/i

export const compileDirectory = Effect.fn("PolicyCompiler.compileDirectory")(function* (
  dir: string,
  options: CompileOptions = {},
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const unreadable = (reason: string) => new PolicyDirectoryUnreadable({ dir, reason })
  const info = yield* fs.stat(dir).pipe(Effect.mapError(() => unreadable("no such directory")))
  if (info.type !== "Directory") return yield* unreadable("not a directory")
  const entries = yield* fs
    .readDirectory(dir, { recursive: true })
    .pipe(Effect.mapError((e) => unreadable(e.message)))
  const relative = entries
    .map((entry) => entry.split(path.sep).join("/"))
    .filter((entry) => !entry.split("/").some((part) => part.startsWith(".") || part === "node_modules"))
    .sort()
  const files: Array<SourceText> = []
  const attachments = new Map<string, string>()
  for (const entry of relative) {
    const isYaml = YAML.test(entry)
    if (!isYaml && !CERTIFICATE.test(entry)) continue
    const full = path.join(dir, entry)
    if ((yield* fs.stat(full).pipe(Effect.mapError((e) => unreadable(e.message)))).type !== "File") continue
    const text = yield* fs.readFileString(full).pipe(Effect.mapError((e) => unreadable(e.message)))
    if (isYaml) files.push({ path: entry, text })
    else attachments.set(entry, text)
  }
  const now = options.now ?? new Date(yield* Clock.currentTimeMillis)
  return compileSources({
    files,
    attachments,
    now,
    ...(options.strict === undefined ? {} : { strict: options.strict }),
  }) satisfies CompileResult
})
