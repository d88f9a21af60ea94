/**
 * `mailconnect fleet status [--json] [--expect-serial N]`: every live relay (from heartbeats in
 * REDIS_URL) with its version, roles, bundle serial and drain state. With `--expect-serial` the
 * exit status is 0 only when at least one relay is live and every live relay runs serial N —
 * what a deploy script waits for after `policy publish`.
 */
import { Command, Options } from "@effect/cli"
import { FleetRegistry, type RelayHeartbeat } from "@mailconnect/fleet"
import { RedisClient } from "@mailconnect/redis-client"
import { Clock, Console, Effect, Layer, Option } from "effect"
import { CliExit } from "../exit"
import { missingSubcommand } from "../usage"

const json = Options.boolean("json").pipe(Options.withDescription("print the heartbeats as JSON"))
const expectSerial = Options.integer("expect-serial").pipe(
  Options.optional,
  Options.withDescription("exit 1 unless every live relay runs this bundle serial"),
)

/** `waiting/active/delayed/failed` as the relay last sampled the delivery queue. */
const queueSummary = (r: RelayHeartbeat): string => {
  const figures = r.queues?.delivery as Readonly<Record<string, number>> | undefined
  if (!figures) return "-"
  return ["waiting", "active", "delayed", "failed"]
    .map((state) => `${state[0]}${figures[state] ?? 0}`)
    .join(" ")
}

const table = (relays: ReadonlyArray<RelayHeartbeat>, now: number): string => {
  const rows = relays.map((r) => [
    r.relayId,
    r.version,
    r.roles.join(","),
    r.bundle ? String(r.bundle.serial) : "-",
    r.bundle ? r.bundle.digest.slice(0, 19) : "-",
    r.draining ? "draining" : r.bundle ? "ready" : "no-bundle",
    `${Math.max(0, Math.round((now - Date.parse(r.updatedAt)) / 1000))}s ago`,
    queueSummary(r),
  ])
  const header = ["RELAY", "VERSION", "ROLES", "SERIAL", "DIGEST", "STATE", "HEARTBEAT", "QUEUE"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

const status = Command.make("status", { json, expectSerial }, ({ json, expectSerial }) =>
  Effect.gen(function* () {
    const fleet = yield* FleetRegistry
    const { relays, unreadable } = yield* fleet.live
    const now = yield* Clock.currentTimeMillis
    if (json)
      yield* Console.log(JSON.stringify({ relays, unreadable: unreadable.map((u) => u.key) }, null, 2))
    else yield* Console.log(relays.length === 0 ? "no live relays" : table(relays, now))
    for (const u of unreadable) yield* Console.error(`unreadable heartbeat ${u.key}: ${u.detail}`)
    if (Option.isNone(expectSerial)) return
    const serial = expectSerial.value
    if (relays.length === 0)
      return yield* new CliExit({ code: 1, message: `no live relays; expected serial ${serial}` })
    const behind = relays.filter((r) => r.bundle?.serial !== serial)
    if (behind.length > 0) {
      const list = behind.map((r) => `${r.relayId} (${r.bundle ? r.bundle.serial : "none"})`).join(", ")
      return yield* new CliExit({
        code: 1,
        message: `${behind.length} of ${relays.length} relay(s) not on serial ${serial}: ${list}`,
      })
    }
    if (!json) yield* Console.log(`all ${relays.length} relay(s) run serial ${serial}`)
  }).pipe(
    Effect.catchTag("RedisCommandError", (e) =>
      Effect.fail(new CliExit({ code: 1, message: `Redis unavailable (${e.command}: ${e.detail})` })),
    ),
    Effect.provide(FleetRegistry.layer.pipe(Layer.provide(RedisClient.layerFromEnv))),
    Effect.catchTag("ConfigError", (e) => Effect.fail(new CliExit({ code: 1, message: e.message }))),
  ),
).pipe(Command.withDescription("List live relays: version, roles, bundle serial, drain state."))

export const fleetCommand = Command.make("fleet", {}, missingSubcommand("fleet")).pipe(
  Command.withDescription("Watch the relay fleet (heartbeats in Redis)."),
  Command.withSubcommands([status]),
)
