/**
 * The queue page's routes: `GET /queue` (everyone signed in), `POST /queue/preview` and
 * `POST /queue/act` (admin role only: 403 otherwise). The POSTs pass the app's same-origin check
 * first (`sameOriginWrites`, the dashboard's CSRF defence: a foreign page cannot make an admin's
 * browser post), and `/queue/act` needs the confirmation field only the preview's form carries.
 * The operator named in the audit is the Basic user name the request was authenticated with.
 */
import {
  type ActionReport,
  FailureCodeSchema,
  QUEUE_STATES,
  type QueueAction,
  type QueueAuditShape,
  type QueueOpsShape,
  type QueueState,
  type Selection,
} from "@mailconnect/delivery-queue"
import { parseDuration } from "@mailconnect/policy"
import { Clock, Effect, Either, Runtime, Schema } from "effect"
import express, { type Request, type RequestHandler, type Response, Router } from "express"
import { parseBasic } from "./credentials"
import { roleOf } from "./guards"
import { page, type SafeHtml } from "./html"
import { failureBody, failureStatus } from "./pages/error-page"
import { previewBody, type QueueFilterFields, queueBody, refusedBody, resultBody } from "./pages/queue-page"

export interface QueueRouteOptions {
  readonly ops: QueueOpsShape
  readonly audit: QueueAuditShape
  readonly runtime: Runtime.Runtime<never>
}

/** Audit entries shown on the page. */
const AUDIT_SHOWN = 20

const isCode = Schema.is(FailureCodeSchema)
const text = (value: unknown): string => (typeof value === "string" ? value.trim() : "")

const fieldsOf = (source: Record<string, unknown>): QueueFilterFields => ({
  partner: text(source.partner),
  domain: text(source.domain),
  code: text(source.code),
  older: text(source.older),
  state: text(source.state),
})

/** The selection the fields describe, or what is wrong with them. */
export const selectionOf = (f: QueueFilterFields, ids: string): Either.Either<Selection, string> => {
  if (f.code !== "" && !isCode(f.code)) return Either.left(`Unknown failure code “${f.code}”.`)
  const olderThanMs = f.older === "" ? undefined : parseDuration(f.older)
  if (f.older !== "" && olderThanMs === undefined)
    return Either.left(`“${f.older}” is not a duration like 30m, 2h or 3d.`)
  if (f.state !== "" && !(QUEUE_STATES as ReadonlyArray<string>).includes(f.state))
    return Either.left(`Unknown state “${f.state}”.`)
  const messageIds = ids.split(/\s+/).filter((id) => id !== "")
  return Either.right({
    ...(f.partner ? { partner: f.partner } : {}),
    ...(f.domain ? { domain: f.domain } : {}),
    ...(f.code !== "" && isCode(f.code) ? { code: f.code } : {}),
    ...(olderThanMs === undefined ? {} : { olderThanMs }),
    ...(f.state ? { states: [f.state as QueueState] } : {}),
    ...(messageIds.length > 0 ? { messageIds } : {}),
  })
}

/** The action the form asks for, or what is missing. */
export const actionOf = (body: Record<string, unknown>): Either.Either<QueueAction, string> => {
  const reason = text(body.reason)
  switch (text(body.action)) {
    case "hold":
      return Either.right({ action: "hold", ...(reason ? { reason } : {}) })
    case "release":
      return Either.right({ action: "release" })
    case "retry":
      return Either.right({ action: "retry" })
    case "delete": {
      const notify = text(body.notify)
      return notify === "ndr" || notify === "silent"
        ? Either.right({ action: "delete", notify, ...(reason ? { reason } : {}) })
        : Either.left("Delete: choose whether the sender gets an NDR or nobody is told.")
    }
    case "bounce":
      return reason
        ? Either.right({ action: "bounce", reason })
        : Either.left("Bounce: state the reason the sender will read.")
    default:
      return Either.left("Unknown action.")
  }
}

const isUnfiltered = (s: Selection) =>
  s.partner === undefined &&
  s.domain === undefined &&
  s.code === undefined &&
  s.olderThanMs === undefined &&
  s.states === undefined &&
  s.messageIds === undefined

export const queueRoutes = (options: QueueRouteOptions): Router => {
  const run = <A>(effect: Effect.Effect<A, { readonly _tag: string }>) =>
    Runtime.runPromise(options.runtime)(Effect.all([Effect.either(effect), Clock.currentTimeMillis]))
  const send = (res: Response, status: number, title: string, body: SafeHtml, now: number) =>
    res
      // Under the dashboard's `no-referrer` a browser posts these pages' forms with `Origin: null`,
      // which the same-origin check must refuse; `same-origin` sends the real origin to us alone.
      .setHeader("Referrer-Policy", "same-origin")
      .status(status)
      .type("html")
      .send(page({ title, tab: "queue", role: roleOf(res), generatedAt: now, body }))

  const adminOnly: RequestHandler = (_req, res, next) => {
    if (roleOf(res) === "admin") return next()
    res.status(403).type("text/plain").send("admin role required\n")
  }

  /** Runs an effect and renders its value, or the failure page (503 for Redis) when it fails. */
  const render =
    <A>(
      title: string,
      effect: (req: Request, res: Response) => Effect.Effect<A, { readonly _tag: string }>,
      body: (value: A, now: number) => { status: number; body: SafeHtml },
    ): RequestHandler =>
    (req, res, next) => {
      run(effect(req, res))
        .then(([result, now]) =>
          Either.match(result, {
            onLeft: (failure) => send(res, failureStatus(failure), title, failureBody(failure), now),
            onRight: (value) => {
              const out = body(value, now)
              send(res, out.status, title, out.body, now)
            },
          }),
        )
        .catch(next)
    }

  const refused = (problem: string) => ({ status: 400, body: refusedBody(problem) })

  /** A POST's action on its selection, validated; the error text when the form cannot be acted on. */
  const requested = (req: Request) => {
    const body = (req.body ?? {}) as Record<string, unknown>
    const fields = fieldsOf(body)
    const selection = selectionOf(fields, text(body.ids))
    const action = actionOf(body)
    if (Either.isLeft(selection)) return Either.left(selection.left)
    if (Either.isLeft(action)) return Either.left(action.left)
    if (isUnfiltered(selection.right))
      return Either.left("Filter the queue first: an action never applies to the whole queue from here.")
    return Either.right({ fields, selection: selection.right, action: action.right })
  }

  const actor = (req: Request) => ({
    name: parseBasic(req.headers.authorization)?.user ?? "admin",
    via: "dashboard" as const,
  })

  const router = Router()
  const form = express.urlencoded({ extended: false, limit: "32kb" })

  router.get(
    "/queue",
    render(
      "Queue",
      (req, res) =>
        Effect.gen(function* () {
          const fields = fieldsOf(req.query as Record<string, unknown>)
          const selection = selectionOf(fields, "")
          const entries = yield* options.ops.list(Either.getOrElse(selection, () => ({})))
          const audit = yield* options.audit.recent(AUDIT_SHOWN)
          return {
            fields,
            entries,
            audit,
            admin: roleOf(res) === "admin",
            ...(Either.isLeft(selection) ? { problem: selection.left } : {}),
          }
        }),
      (view, now) => ({ status: 200, body: queueBody(view, now) }),
    ),
  )

  router.post(
    "/queue/preview",
    adminOnly,
    form,
    render<Either.Either<{ report: ActionReport; fields: QueueFilterFields }, string>>(
      "Queue action: preview",
      (req) => {
        const r = requested(req)
        if (Either.isLeft(r)) return Effect.succeed(Either.left(r.left))
        return options.ops
          .act({ ...r.right, dryRun: true, actor: actor(req) })
          .pipe(Effect.map((report) => Either.right({ report, fields: r.right.fields })))
      },
      (out, now) =>
        Either.match(out, {
          onLeft: refused,
          onRight: ({ report, fields }) => ({ status: 200, body: previewBody(report, fields, now) }),
        }),
    ),
  )

  router.post(
    "/queue/act",
    adminOnly,
    form,
    render<Either.Either<ActionReport, string>>(
      "Queue action: done",
      (req) => {
        const r = requested(req)
        if (Either.isLeft(r)) return Effect.succeed(Either.left(r.left))
        if (
          text((req.body as Record<string, unknown>).confirm) !== "yes" ||
          r.right.selection.messageIds === undefined
        )
          return Effect.succeed(Either.left("Not confirmed: preview the action and confirm it there."))
        return options.ops
          .act({ ...r.right, dryRun: false, actor: actor(req) })
          .pipe(Effect.map(Either.right))
      },
      (out, now) =>
        Either.match(out, {
          onLeft: refused,
          onRight: (report) => ({ status: 200, body: resultBody(report, now) }),
        }),
    ),
  )
  return router
}
