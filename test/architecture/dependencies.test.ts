/**
 * The dependency rules of docs/architecture.md, read from the workspace itself: every package's
 * package.json and every runtime import in its `src/` (type-only imports create no edge). A
 * change that crosses a forbidden edge fails here, naming the file and the import.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const ROOT = join(import.meta.dirname, "..", "..")

type Layer = "core" | "adapter" | "app" | "tooling"

/** The pure core, the adapters and the apps (DESIGN §2); everything under tools/ and test/ is tooling. */
const LAYERS: Readonly<Record<string, Layer>> = {
  "@mailconnect/policy": "core",
  "@mailconnect/policy-compiler": "core",
  "@mailconnect/bundle": "core",
  "@mailconnect/dsn": "core",
  "@mailconnect/retry-timeline": "core",
  "@mailconnect/failure-codes": "core",
  "@mailconnect/delivery-log": "core",
  "@mailconnect/x509": "core",
  "@mailconnect/redis-client": "adapter",
  "@mailconnect/policy-store": "adapter",
  "@mailconnect/delivery-queue": "adapter",
  "@mailconnect/smtp-inbound": "adapter",
  "@mailconnect/smtp-outbound": "adapter",
  "@mailconnect/fleet": "adapter",
  "@mailconnect/mta-sts": "adapter",
  "@mailconnect/telemetry": "adapter",
  "@mailconnect/dns-secure": "adapter",
  "@mailconnect/tlsrpt": "adapter",
  "@mailconnect/rate-limit": "adapter",
  "@mailconnect/message-trace": "adapter",
  "@mailconnect/relay": "app",
  "@mailconnect/dashboard": "app",
  "@mailconnect/cli": "app",
}

/** Each third-party library (or Node module that opens sockets) is wrapped by exactly one package. */
const WRAPPED_BY: Readonly<Record<string, ReadonlyArray<string>>> = {
  ioredis: ["@mailconnect/redis-client"],
  bullmq: ["@mailconnect/delivery-queue"],
  "smtp-server": ["@mailconnect/smtp-inbound"],
  nodemailer: ["@mailconnect/smtp-outbound"],
  "node:net": ["@mailconnect/smtp-outbound", "@mailconnect/dns-secure"],
  "node:tls": ["@mailconnect/smtp-outbound", "@mailconnect/smtp-inbound"],
  "node:dgram": ["@mailconnect/dns-secure"],
  "dns-packet": ["@mailconnect/dns-secure"],
  "node:https": ["@mailconnect/mta-sts", "@mailconnect/tlsrpt"],
}

/** Adapters may build on the infrastructure adapters, never on each other's services. */
const INFRASTRUCTURE = new Set(["@mailconnect/redis-client", "@mailconnect/telemetry"])

interface Workspace {
  readonly name: string
  readonly dir: string
  readonly layer: Layer
  readonly dependencies: ReadonlyArray<string>
  /** [file, specifier] of every runtime import under src/. */
  readonly imports: ReadonlyArray<readonly [string, string]>
}

const sourceFiles = (dir: string): ReadonlyArray<string> => {
  let entries: Array<string>
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(ts|tsx|mts|mjs|js)$/.test(entry) && !entry.endsWith(".d.ts") ? [path] : []
  })
}

const RUNTIME_IMPORT =
  /(?:^|[;\s])(?:import|export)\s+(?!type\s)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g

/** Specifiers of runtime imports; `import type …` and `export type …` are left out. */
export const runtimeImports = (text: string): ReadonlyArray<string> =>
  [...text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, "").matchAll(RUNTIME_IMPORT)].map((m) => (m[1] ?? m[2])!)

const packageOf = (specifier: string): string => {
  if (specifier.startsWith("node:")) return specifier
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

const workspaces = (): ReadonlyArray<Workspace> =>
  ["packages", "apps", "tools"]
    .flatMap((group) => readdirSync(join(ROOT, group)).map((name) => join(ROOT, group, name)))
    .concat([join(ROOT, "test")])
    .filter((dir) => {
      try {
        return statSync(join(dir, "package.json")).isFile()
      } catch {
        return false
      }
    })
    .map((dir) => {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        name: string
        dependencies?: Record<string, string>
      }
      const imports = sourceFiles(join(dir, "src")).flatMap((file) =>
        runtimeImports(readFileSync(file, "utf8")).map((s) => [relative(ROOT, file), s] as const),
      )
      return {
        name: manifest.name,
        dir: relative(ROOT, dir),
        layer: LAYERS[manifest.name] ?? "tooling",
        dependencies: Object.keys(manifest.dependencies ?? {}),
        imports,
      }
    })

const all = workspaces()
const byName = new Map(all.map((w) => [w.name, w]))
const layerOf = (name: string): Layer | undefined => byName.get(name)?.layer
const production = all.filter((w) => w.layer !== "tooling")

/** Every edge of `w` to a workspace package: declared dependencies and runtime imports. */
const edges = (w: Workspace): ReadonlyArray<{ readonly to: string; readonly where: string }> => [
  ...w.dependencies.filter((d) => byName.has(d)).map((to) => ({ to, where: `${w.dir}/package.json` })),
  ...w.imports
    .map(([file, specifier]) => ({ to: packageOf(specifier), where: `${file}: ${specifier}` }))
    .filter(({ to }) => byName.has(to) && to !== w.name),
]

describe("the package graph (docs/architecture.md)", () => {
  it("knows every production package's layer", () => {
    const unknown = all
      .filter((w) => w.dir.startsWith("packages/") || w.dir.startsWith("apps/"))
      .filter((w) => LAYERS[w.name] === undefined)
      .map((w) => w.name)
    expect(unknown).toEqual([])
  })

  it("reads runtime imports and leaves type-only ones out", () => {
    expect(
      runtimeImports(
        'import type { A } from "a"\nimport { b } from "b"\nimport {\n  c,\n} from "c"\nimport "d"\nexport * from "e"\nexport type { F } from "f"\nconst g = await import("g")\n// import { h } from "h"',
      ),
    ).toEqual(["b", "c", "d", "e", "g"])
  })

  it("points one way: apps → adapters → pure core; nothing imports an app or a tool", () => {
    const rank: Record<Layer, number> = { core: 0, adapter: 1, app: 2, tooling: 3 }
    const violations = production.flatMap((w) =>
      edges(w)
        .filter(
          ({ to }) => rank[layerOf(to)!] > rank[w.layer] || (w.layer === "app" && layerOf(to) === "app"),
        )
        .map(({ to, where }) => `${w.name} (${w.layer}) → ${to} (${layerOf(to)}) at ${where}`),
    )
    expect(violations).toEqual([])
  })

  it("keeps the pure core free of I/O libraries and sockets", () => {
    const forbidden = new Set([
      "ioredis",
      "bullmq",
      "smtp-server",
      "nodemailer",
      "node:net",
      "node:tls",
      "node:dgram",
    ])
    const violations = production
      .filter((w) => w.layer === "core")
      .flatMap((w) => w.imports.filter(([, s]) => forbidden.has(packageOf(s))).map(([f, s]) => `${f}: ${s}`))
    expect(violations).toEqual([])
  })

  it("wraps each third-party library in exactly one package", () => {
    const violations = production.flatMap((w) =>
      w.imports
        .filter(([, s]) => {
          const wrappers = WRAPPED_BY[packageOf(s)]
          return wrappers !== undefined && !wrappers.includes(w.name)
        })
        .map(([f, s]) => `${f}: ${s}`),
    )
    expect(violations).toEqual([])
  })

  it("lets adapters build only on infrastructure adapters, never on each other's services", () => {
    const violations = production
      .filter((w) => w.layer === "adapter")
      .flatMap((w) =>
        edges(w)
          .filter(({ to }) => layerOf(to) === "adapter" && !INFRASTRUCTURE.has(to))
          .map(({ to, where }) => `${w.name} → ${to} at ${where}`),
      )
    expect(violations).toEqual([])
  })

  it("declares every workspace package a source imports", () => {
    const violations = all.flatMap((w) =>
      w.imports
        .map(([file, specifier]) => [file, packageOf(specifier)] as const)
        .filter(([, to]) => byName.has(to) && to !== w.name && !w.dependencies.includes(to))
        .map(([file, to]) => `${file} imports ${to}, not in ${w.dir}/package.json dependencies`),
    )
    expect(violations).toEqual([])
  })

  it("keeps vitest out of what runs outside a test runner (the bench, test-support's main entry)", () => {
    const entries = ["tools/bench/src/main.ts", "tools/test-support/src/index.ts"]
    const violations = entries.flatMap((entry) =>
      reachable(join(ROOT, entry))
        .flatMap((file) => runtimeImports(readFileSync(file, "utf8")).map((s) => [file, s] as const))
        .filter(([, s]) => packageOf(s) === "vitest" || packageOf(s) === "@effect/vitest")
        .map(([file, s]) => `${relative(ROOT, file)}: ${s} (reached from ${entry})`),
    )
    expect(violations).toEqual([])
  })
})

/**
 * Source files reachable from `entry` by relative imports, and through workspace packages' main
 * entries (`@mailconnect/x` → its `src/index.ts`); the bench loads its suites dynamically, so every
 * file of a `suites/` folder next to an entry counts as reached.
 */
const reachable = (entry: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const suites = join(dirname(file), "suites")
    if (file.endsWith("main.ts")) for (const suite of sourceFiles(suites)) visit(suite)
    for (const specifier of runtimeImports(readFileSync(file, "utf8"))) {
      const target = specifier.startsWith(".")
        ? resolveSource(resolve(dirname(file), specifier))
        : byName.has(specifier)
          ? resolveSource(join(ROOT, byName.get(specifier)!.dir, "src", "index"))
          : undefined
      if (target) visit(target)
    }
  }
  visit(entry)
  return [...seen]
}

const resolveSource = (path: string): string | undefined =>
  [path, `${path}.ts`, join(path, "index.ts")].find((candidate) => {
    try {
      return statSync(candidate).isFile()
    } catch {
      return false
    }
  })
