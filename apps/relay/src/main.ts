/**
 * mailconnect relay.
 *
 * What it does: hot-loads the signed partner policy bundle from Redis (keeping a last-known-good
 * copy on disk), announces itself to the fleet with a TTL heartbeat, and serves /healthz,
 * /readyz and /metrics. Later work adds the SMTP listeners (role `ingress`) and delivery workers
 * (role `delivery`) as further layers between `HttpLayer` and `DrainLayer`.
 *
 * What it trusts: bundles only if signed by a key in MAILCONNECT_TRUSTED_KEYS, with a matching
 * digest, a supported schema and a serial above the active one. Redis contents are otherwise
 * untrusted. The HTTP port has no authentication: bind it to loopback or a private network.
 *
 * What it may touch: Redis keys under `{REDIS_PREFIX}:` (reads policy, writes its heartbeat),
 * RELAY_STATE_DIR (last-known-good copy), its HTTP port.
 *
 * This file only assembles layers. SIGTERM interrupts the program; every finalizer runs in
 * reverse build order (see layers/drain.ts) and the process exits 0.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Layer, Logger } from "effect"
import { RelayConfig } from "./config"
import { DrainLayer } from "./layers/drain"
import { HeartbeatLayer } from "./layers/heartbeat"
import { HttpLayer } from "./layers/http"
import { PolicyLayer } from "./layers/policy"
import { RedisLayer } from "./layers/redis"
import { RelayLifecycle } from "./lifecycle"

const Relay = DrainLayer.pipe(
  Layer.provideMerge(HttpLayer),
  Layer.provideMerge(HeartbeatLayer),
  Layer.provideMerge(PolicyLayer),
  Layer.provideMerge(Layer.mergeAll(RedisLayer, RelayLifecycle.layer, RelayConfig.layer, NodeContext.layer)),
  Layer.provide(Logger.logFmt),
)

NodeRuntime.runMain(Layer.launch(Relay), { disablePrettyLogger: true })
