// temporary: attribute every sample's time to the nearest frame of our code (not committed)
import { readFileSync } from "node:fs"
import { ownerOf, sourceOf } from "./profile-summary"
const file = process.argv[2]!
const depthOurs = Number(process.argv[3] ?? 1)
const p = JSON.parse(readFileSync(file, "utf8"))
const byId = new Map<number, any>()
const parent = new Map<number, number>()
for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id) }
const info = new Map<number, { owner: string; label: string }>()
const infoOf = (id: number) => {
  let i = info.get(id)
  if (!i) { const n = byId.get(id); const s = sourceOf(n.callFrame); const owner = ownerOf(s.file, n.callFrame.functionName)
    i = { owner, label: `${n.callFrame.functionName || "(anon)"} ${s.file.replace(/.*\/(packages|apps|tools)\//, "")}:${s.line}` }; info.set(id, i) }
  return i
}
const totals = new Map<string, number>()
let all = 0
for (let k = 0; k < p.samples.length; k++) {
  const dt = p.timeDeltas[k] ?? 0
  let id = p.samples[k]
  const leaf = infoOf(id)
  if (leaf.owner.startsWith("(")) continue
  all += dt
  const chain: string[] = []
  while (id !== undefined) { const i = infoOf(id); if (i.owner.startsWith("mailconnect")) { chain.push(i.label); if (chain.length >= depthOurs) break } id = parent.get(id)! }
  const key = chain.length ? chain.join(" < ") : "(no mailconnect frame)"
  totals.set(key, (totals.get(key) ?? 0) + dt)
}
const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 40))
for (const [k, v] of top) console.log(`${(100 * v / all).toFixed(1).padStart(5)} %  ${k}`)
if (process.argv[5] === "none") {
  const t2 = new Map<string, number>()
  for (let k = 0; k < p.samples.length; k++) {
    const dt = p.timeDeltas[k] ?? 0
    let id = p.samples[k]
    const leaf = infoOf(id)
    if (leaf.owner.startsWith("(")) continue
    const chain: any[] = []
    let ours = false
    while (id !== undefined) { const i = infoOf(id); if (i.owner.startsWith("mailconnect")) { ours = true; break } chain.push(i); id = parent.get(id)! }
    if (ours) continue
    // first frames from the root: skip (root)
    const fromRoot = chain.reverse().filter((i) => !i.label.startsWith("(root)") )
    const key = `${leaf.owner} | ${fromRoot.slice(0, 3).map((i) => i.label).join(" > ")}`
    t2.set(key, (t2.get(key) ?? 0) + dt)
  }
  for (const [k, v] of [...t2.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(100 * v / all).toFixed(1).padStart(5)} %  ${k}`)
}
