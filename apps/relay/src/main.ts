/**
 * mailconnect relay.
 *
 * What it does: hot-loads the signed partner policy bundle from Redis (keeping a last-known-good
 * copy on disk), announces itself to the fleet with a TTL heartbeat, and serves /healthz,
 * /readyz and /metrics (and, with RELAY_MTA_STS_PORT_HTTPS, our local domains' MTA-STS policies over
 * HTTPS; with RELAY_TLSRPT_HTTPS_PORT, an endpoint for TLS reports about our domains); runs the SMTP listeners (role `ingress`: submission, submissions, inbound
 * MX — mail is acknowledged only once durably queued) and the delivery workers (role `delivery`:
 * enforced TLS per partner policy, retry timeline, DSNs, and with RELAY_TLSRPT_ORGANIZATION the
 * daily RFC 8460 TLS reports to recipient domains), per RELAY_ROLES.
 *
 * What it trusts: bundles only if signed by a key in MAILCONNECT_TRUSTED_KEYS, with a matching
 * digest, a supported schema and a serial above the active one. Redis contents are otherwise
 * untrusted. The HTTP port has no authentication: bind it to loopback or a private network.
 *
 * What it may touch: Redis keys under `{REDIS_PREFIX}:` (reads policy, writes its heartbeat, the
 * spool and the delivery queue), RELAY_STATE_DIR (last-known-good copy), its HTTP(S) and SMTP
 * ports, outbound SMTP to partner servers, RELAY_CLIENT_CERTS, RELAY_TLS_KEY and
 * RELAY_MTA_STS_CERT/KEY (read only).
 *
 * This file only assembles layers. SIGTERM interrupts the program; every finalizer runs in
 * reverse build order (see layers/drain.ts) and the process exits 0.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Layer, Logger } from "effect"
import { RelayConfig } from "./config"
import { DrainLayer } from "./layers/drain"
import { HeapLayer } from "./layers/heap"
import { HeartbeatLayer } from "./layers/heartbeat"
import { HttpLayer } from "./layers/http"
import { MtaStsHostLayer } from "./layers/mta-sts-host"
import { PolicyLayer } from "./layers/policy"
import { RedisLayer } from "./layers/redis"
import { RedisEvictionCheck } from "./layers/redis-eviction"
import { RolesLayer } from "./layers/roles"
import { TlsReportEndpointLayer } from "./layers/tlsrpt-inbound"
import { RelayLifecycle } from "./lifecycle"

const Relay = DrainLayer.pipe(
  Layer.provideMerge(RolesLayer),
  Layer.provideMerge(HttpLayer),
  Layer.provideMerge(MtaStsHostLayer),
  Layer.provideMerge(TlsReportEndpointLayer),
  Layer.provideMerge(HeartbeatLayer),
  // After the policy's start-up read, before anything is queued: a Redis that may evict keys
  // would lose acknowledged mail.
  Layer.provideMerge(RedisEvictionCheck),
  Layer.provideMerge(PolicyLayer),
  Layer.provideMerge(Layer.mergeAll(RedisLayer, RelayLifecycle.layer, RelayConfig.layer, NodeContext.layer)),
  // First: the heap's growth is set before the relay allocates for its work.
  Layer.provideMerge(HeapLayer),
  Layer.provide(Logger.logFmt),
)

NodeRuntime.runMain(Layer.launch(Relay), { disablePrettyLogger: true })
