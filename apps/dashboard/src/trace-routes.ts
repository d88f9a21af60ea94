/**
 * The trace page's route: `GET /trace` (everyone signed in; read-only). The query carries the
 * form's fields; no filter lists the newest messages. A queue id also opens that message's lines.
 */
import { FailureCodeSchema } from "@mailconnect/delivery-queue"
import { summarize, type TraceFilter, type TraceIndexShape } from "@mailconnect/message-trace"
import { parseDuration } from "@mailconnect/policy"
import { Clock, Effect, Either, Runtime, Schema } from "effect"
import { type RequestHandler, Router } from "express"
import { roleOf } from "./guards"
import { page } from "./html"
import { failureBody, failureStatus } from "./pages/error-page"
import { TRACE_FIELDS, type TraceFields, traceBody } from "./pages/trace-page"

export interface TraceRouteOptions {
  readonly trace: Pick<TraceIndexShape, "search">
  readonly runtime: Runtime.Runtime<never>
}

/** Messages the page lists. */
const SHOWN = 100

const isCode = Schema.is(FailureCodeSchema)

export const traceFieldsOf = (query: Record<string, unknown>): TraceFields =>
  Object.fromEntries(
    TRACE_FIELDS.map(([key, name]) => {
      const value = query[name]
      return [key, typeof value === "string" ? value.trim() : ""]
    }),
  ) as unknown as TraceFields

const instant = (label: string, text: string, now: number): Either.Either<number | undefined, string> => {
  if (text === "") return Either.right(undefined)
  const back = parseDuration(text)
  if (back !== undefined) return Either.right(now - back)
  const at = Date.parse(text)
  return Number.isNaN(at)
    ? Either.left(`${label}: “${text}” is neither a duration like 2d nor an ISO time.`)
    : Either.right(at)
}

/** The search the fields describe, or what is wrong with them. */
export const traceFilterOf = (f: TraceFields, now: number): Either.Either<TraceFilter, string> =>
  Either.gen(function* () {
    const code = f.code.toUpperCase()
    if (code !== "" && !isCode(code)) return yield* Either.left(`Unknown failure code “${f.code}”.`)
    const optional = (v: string) => (v === "" ? undefined : v)
    return {
      from: optional(f.from),
      to: optional(f.to),
      messageId: optional(f.messageId),
      queueId: optional(f.queueId),
      partner: optional(f.partner),
      code: optional(code),
      since: yield* instant("Since", f.since, now),
      until: yield* instant("Until", f.until, now),
      limit: SHOWN,
    }
  })

export const traceRoutes = (options: TraceRouteOptions): Router => {
  const run = Runtime.runPromise(options.runtime)
  const handler: RequestHandler = (req, res, next) => {
    const fields = traceFieldsOf(req.query as Record<string, unknown>)
    const view = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const filter = traceFilterOf(fields, now)
      if (Either.isLeft(filter))
        return { fields, result: { records: [], scanned: 0, complete: true }, problem: filter.left }
      const result = yield* options.trace.search(filter.right)
      const chosen = filter.right.queueId === undefined ? undefined : result.records[0]
      return {
        fields,
        result,
        ...(chosen ? { selected: { summary: summarize(chosen), lines: chosen.lines } } : {}),
      }
    })
    run(Effect.all([Effect.either(view), Clock.currentTimeMillis]))
      .then(([out, now]) => {
        const content = Either.match(out, {
          onLeft: (failure) => ({ status: failureStatus(failure), body: failureBody(failure) }),
          onRight: (v) => ({ status: 200, body: traceBody(v) }),
        })
        res
          .status(content.status)
          .type("html")
          .send(
            page({
              title: "Message trace",
              tab: "trace",
              role: roleOf(res),
              generatedAt: now,
              body: content.body,
            }),
          )
      })
      .catch(next)
  }
  return Router().get("/trace", handler)
}
