/**
 * `SmtpIngress`: the relay's SMTP listeners for the lifetime of a scope. Opening listens on every
 * configured port; closing stops accepting at once and lets open sessions finish for the drain
 * time (then smtp-server answers 421 4.3.2 and closes them) — the ingress half of a graceful drain.
 */
import { Effect, Option, Runtime } from "effect"
import type { SMTPServer } from "smtp-server"
import { makeVerificationCache } from "./auth-cache"
import { AuthThrottle } from "./auth-throttle"
import { makeDataBudget } from "./data-budget"
import { Enqueue } from "./enqueue"
import { IngressPolicy } from "./ingress-policy"
import {
  createListener,
  type IngressEvents,
  type IngressLimits,
  type IngressTls,
  type ListenerConfig,
} from "./listener"
import type { UserDirectory } from "./user-directory"

export interface IngressConfig {
  readonly hostname: string
  readonly listeners: ReadonlyArray<ListenerConfig>
  readonly tls: IngressTls
  readonly limits: IngressLimits
  readonly users: UserDirectory
  readonly events: IngressEvents
}

export interface RunningListener extends ListenerConfig {
  /** The bound port (useful when configured as 0). */
  readonly boundPort: number
}

const listen = (server: SMTPServer, config: ListenerConfig) =>
  Effect.async<number, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.server.once("error", onError)
    server.listen(config.port, config.host, () => {
      server.server.off("error", onError)
      const address = server.server.address()
      resume(Effect.succeed(typeof address === "object" && address ? address.port : config.port))
    })
  })

const close = (server: SMTPServer) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))

/** Starts the listeners in the current scope; returns their bound ports. */
export const startIngress = (config: IngressConfig) =>
  Effect.gen(function* () {
    const queue = yield* Enqueue
    const policy = yield* IngressPolicy
    const runtime = yield* Effect.runtime<never>()
    const log = Runtime.runFork(runtime)
    const authThrottle = Option.getOrUndefined(yield* Effect.serviceOption(AuthThrottle))
    // One budget for every listener of this process: memory is the process's.
    const dataBudget =
      config.limits.maxBufferedBytes === undefined
        ? undefined
        : makeDataBudget(config.limits.maxBufferedBytes)
    // One cache for every listener of this process (a user may log in on 587 and 465).
    const auth = config.limits.authCache
    const verifications = auth && auth.maxEntries > 0 ? makeVerificationCache(auth) : undefined
    const running: Array<RunningListener> = []
    for (const listener of config.listeners) {
      const server = createListener(listener, {
        hostname: config.hostname,
        tls: config.tls,
        limits: config.limits,
        queue,
        policy,
        users: config.users.current,
        events: config.events,
        runtime,
        ...(authThrottle ? { authThrottle } : {}),
        ...(dataBudget ? { dataBudget } : {}),
        ...(verifications ? { verifications } : {}),
      })
      // Handshake failures and socket errors arrive here; without a listener they would crash the process.
      server.on("error", (error: Error) => log(Effect.logDebug(`smtp ${listener.kind}: ${error.message}`)))
      const boundPort = yield* Effect.acquireRelease(listen(server, listener), () =>
        Effect.logInfo(`smtp ${listener.kind}: draining`).pipe(Effect.zipRight(close(server))),
      )
      yield* Effect.logInfo(`smtp ${listener.kind} listening on ${listener.host}:${boundPort}`)
      running.push({ ...listener, boundPort })
    }
    return running as ReadonlyArray<RunningListener>
  })
