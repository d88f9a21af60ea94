#!/usr/bin/env node
// Runs an app (`node tools/launch/run.mjs cli|relay …`) from a single-file esbuild bundle
// instead of through the tsx loader: startup drops from seconds to a fraction of a second
// (the loader resolves effect's hundreds of modules one by one through its hook thread).
// The bundle is rebuilt automatically whenever one of its inputs changed, so there is no
// build step to remember; `run.mjs --build` only builds (for images with a read-only tree).
// Plain JavaScript: it must run before anything is compiled.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { setFlagsFromString } from "node:v8"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const APPS = { cli: "apps/cli/src/main.ts", relay: "apps/relay/src/main.ts" }
const CACHE = join(ROOT, "node_modules", ".cache", "mailconnect")

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

const paths = (app) => ({
  bundle: join(CACHE, `${app}.mjs`),
  manifest: join(CACHE, `${app}.inputs.json`),
  lock: join(CACHE, `${app}.lock`),
})

/** Fresh when no input (workspace sources, the lockfile) changed since the bundle was written. */
const isFresh = (app) => {
  const { bundle, manifest } = paths(app)
  const built = mtime(bundle)
  if (!Number.isFinite(built)) return false
  let inputs
  try {
    inputs = JSON.parse(readFileSync(manifest, "utf8"))
  } catch {
    return false
  }
  return inputs.every((input) => mtime(join(ROOT, input)) <= built)
}

const build = async (app) => {
  const { bundle, manifest } = paths(app)
  const { build: esbuild } = await import("esbuild")
  const temp = `${bundle}.${process.pid}.tmp`
  const result = await esbuild({
    absWorkingDir: ROOT,
    entryPoints: [APPS[app]],
    outfile: temp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    // File and line for stack traces, not the sources themselves: with them the map is ~19 MB,
    // and Node keeps every byte of it parsed on the heap of every relay (~100 MB RSS each).
    sourcesContent: false,
    // No comments and no indentation: V8 keeps a script's whole source on the heap, and keeps it
    // two bytes per character once a single character above U+00FF is in it (a `’` in a
    // dependency's comment was enough). Plain, the 7.9 MB bundle took 15 MiB of every relay's
    // heap; without comments (ASCII-only: esbuild escapes non-ASCII in strings) 5.8 MB took 5.5.
    // Names and statements stay as written, and the map still gives file and line.
    minifyWhitespace: true,
    // Licence comments go to `<app>.mjs.LEGAL.txt` next to the bundle, not into it.
    legalComments: "external",
    metafile: true,
    logLevel: "warning",
    // CommonJS dependencies inside an ES module bundle still call require().
    banner: {
      js: 'import { createRequire as __mcRequire } from "node:module"; const require = __mcRequire(import.meta.url);',
    },
  })
  // Workspace inputs are watched file by file; dependencies change only with the lockfile.
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes("node_modules"))
  inputs.push("pnpm-lock.yaml")
  // …and with how they are built.
  inputs.push("tools/launch/run.mjs")
  renameSync(`${temp}.map`, `${bundle}.map`)
  // esbuild writes the licence file only when a dependency has a licence comment.
  if (existsSync(`${temp}.LEGAL.txt`)) renameSync(`${temp}.LEGAL.txt`, `${bundle}.LEGAL.txt`)
  else rmSync(`${bundle}.LEGAL.txt`, { force: true })
  // The sourcemap comment names the temporary file; point it at the final one.
  writeFileSync(
    temp,
    readFileSync(temp, "utf8").replace(/sourceMappingURL=.*$/m, `sourceMappingURL=${app}.mjs.map`),
  )
  writeFileSync(manifest, JSON.stringify(inputs))
  renameSync(temp, bundle)
}

/** One builder at a time (tests start many processes at once); the others wait for its bundle. */
const ensureBundle = async (app) => {
  if (isFresh(app)) return
  mkdirSync(CACHE, { recursive: true })
  const { lock } = paths(app)
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(lock)
      break
    } catch {
      if (isFresh(app)) return
      // A builder that died leaves its lock behind; a build never takes a minute.
      if (waited > 60_000) rmSync(lock, { recursive: true, force: true })
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  try {
    if (!isFresh(app)) await build(app)
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

const usage = `usage: run.mjs ${Object.keys(APPS).join("|")} [args…]  |  run.mjs --build [app…]`

if (process.argv[2] === "--build") {
  const apps = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(APPS)
  for (const app of apps) {
    if (!APPS[app]) {
      console.error(usage)
      process.exit(2)
    }
    await ensureBundle(app)
    console.log(`${paths(app).bundle} is current`)
  }
} else {
  const app = process.argv[2]
  if (!APPS[app]) {
    console.error(usage)
    process.exit(2)
  }
  // The app sees its own arguments, as if started directly.
  process.argv.splice(2, 1)
  await ensureBundle(app)
  // Stack traces through the bundle's source map only when asked for (MAILCONNECT_SOURCE_MAPS=on):
  // Node parses the whole map into ~750,000 arrays when the bundle loads — ~85 MB of heap in
  // every relay, a third of an idle relay's memory. Without it a stack names bundle positions
  // (line and column), which the `.map` next to the bundle translates (e.g. with
  // MAILCONNECT_SOURCE_MAPS=on locally).
  if (process.env.MAILCONNECT_SOURCE_MAPS === "on") process.setSourceMapsEnabled(true)
  // The relay's heap growth (RELAY_HEAP_GROWING_PERCENT, checked, set and logged by the relay
  // itself: apps/relay/src/layers/heap.ts) is set here as well, before the bundle loads: set only
  // from inside, the heap has already grown while the bundle loaded (peak RSS ~240 vs ~205 MiB).
  const percent = (process.env.RELAY_HEAP_GROWING_PERCENT ?? "50").trim()
  if (app === "relay" && /^\d+$/.test(percent)) setFlagsFromString(`--heap-growing-percent=${percent}`)
  await import(pathToFileURL(paths(app).bundle).href)
}
