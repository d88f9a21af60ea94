/**
 * Queue management (issue #16 item 3) on real queued mail: a real redis-server, the real
 * worker, mail deferred by a deliverer that fails per partner. Each test queues its own mail
 * under its own key prefix and acts on it as an operator would — list, hold, release, retry,
 * delete (silently and with an NDR), bounce — by message id and in bulk by filter, dry run first.
 */
import { type RedisServer, startRedis } from "@mailconnect/test-redis"
import { Effect, Either, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type ActRequest,
  BullBoardQueue,
  DeliveryFailed,
  type DeliveryRequest,
  Enqueue,
  QueueAdmin,
  QueueAudit,
  QueueOps,
  Spool,
} from "../src"
import {
  acceptAll,
  eventually,
  partner,
  policySet,
  policyViewLayer,
  queueLayers,
  recordingDeliverer,
  uniquePrefix,
} from "./harness"

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis.stop())

const body = Buffer.from("From: alice@customer.example\r\nSubject: quarterly report\r\n\r\nhello\r\n")
const policy = policySet([partner("bank", ["bank.example"]), partner("insurer", ["*.insurer.example"])])
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** bank: its pin does not match; insurer: refuses connections; our own domain (the DSNs) accepts. */
const failingPartners = (request: DeliveryRequest) =>
  request.route.local
    ? acceptAll(request)
    : request.route.policy.partner?.name === "bank"
      ? Either.left(
          new DeliveryFailed({ code: "CERT_PIN_MISMATCH", status: "4.7.5", server: "mx.bank.example:25" }),
        )
      : Either.left(new DeliveryFailed({ code: "CONNECT_REFUSED", status: "4.4.1" }))

const operator = { name: "alice", via: "cli" } as const

/** A worker, the queue, and the operations, on a prefix of its own. */
const lab = (name: string, script = failingPartners) => {
  const deliverer = recordingDeliverer(script)
  const { worker } = queueLayers({
    redisUrl: redis.url,
    prefix: uniquePrefix(name),
    policy: policyViewLayer(policy),
    deliverer: deliverer.layer,
  })
  const layer = QueueOps.layer.pipe(Layer.provideMerge(worker))
  const run = <A, E>(effect: Effect.Effect<A, E, Layer.Layer.Success<typeof layer>>) =>
    Effect.runPromise(Effect.scoped(Effect.provide(effect, layer)))
  const tries = (domain: string) => deliverer.requests.filter((r) => r.recipients[0]?.endsWith(`@${domain}`))
  const dsns = () => deliverer.requests.filter((r) => r.sender === "")
  /** Non-delivery reports only (mail queued hours ago also got a delay warning). */
  const ndrs = () => dsns().filter((r) => r.body.toString().includes("Action: failed"))
  return { run, deliverer, tries, dsns, ndrs }
}

/** Queues a message and waits until each of its jobs has been tried once and deferred. */
const queueDeferred = (recipients: ReadonlyArray<string>, arrivalAt?: number) =>
  Effect.gen(function* () {
    const enqueue = yield* Enqueue
    const ops = yield* QueueOps
    const { messageId, jobIds } = yield* enqueue.enqueue({
      sender: "alice@customer.example",
      recipients,
      body,
      ...(arrivalAt === undefined ? {} : { arrivalAt }),
    })
    yield* eventually(
      ops
        .list({ messageIds: [messageId] })
        .pipe(
          Effect.map((entries) =>
            entries.length === jobIds.length && entries.every((e) => e.state === "deferred")
              ? true
              : undefined,
          ),
        ),
    )
    return messageId
  })

const act = (request: Omit<ActRequest, "actor" | "dryRun"> & { dryRun?: boolean }) =>
  Effect.flatMap(QueueOps, (ops) => ops.act({ dryRun: false, actor: operator, ...request }))

const stateOf = (messageId: string, domain?: string) =>
  Effect.flatMap(QueueOps, (ops) =>
    ops.list({ messageIds: [messageId], ...(domain ? { domain } : {}) }),
  ).pipe(Effect.map((entries) => entries.map((e) => e.state)))

describe("queue list", () => {
  it("lists queued mail mailq-style and filters by partner, domain, code, age and state", async () => {
    const { run } = lab("qlist")
    await run(
      Effect.gen(function* () {
        const ops = yield* QueueOps
        const now = Date.now()
        const old = yield* queueDeferred(["a@bank.example"], now - 3 * HOUR)
        const insurer = yield* queueDeferred(["b@eu.insurer.example"])
        const both = yield* queueDeferred(["c@bank.example", "d@eu.insurer.example"])

        const all = yield* ops.list({})
        expect(all.map((e) => e.jobId)).toEqual([
          `${old}/bank.example`,
          `${insurer}/eu.insurer.example`,
          `${both}/bank.example`,
          `${both}/eu.insurer.example`,
        ])
        expect(all[0]).toMatchObject({
          messageId: old,
          domain: "bank.example",
          partner: "bank",
          state: "deferred",
          sender: "alice@customer.example",
          pending: ["a@bank.example"],
          attempts: 1,
          code: "CERT_PIN_MISMATCH",
          status: "4.7.5",
          isDsn: false,
        })
        expect(all[0]!.nextAttemptAt).toBeGreaterThan(now)

        const ids = (entries: ReadonlyArray<{ jobId: string }>) => entries.map((e) => e.jobId)
        expect(ids(yield* ops.list({ partner: "bank" }))).toEqual([
          `${old}/bank.example`,
          `${both}/bank.example`,
        ])
        expect(ids(yield* ops.list({ domain: "EU.Insurer.example" }))).toEqual([
          `${insurer}/eu.insurer.example`,
          `${both}/eu.insurer.example`,
        ])
        expect(ids(yield* ops.list({ code: "CONNECT_REFUSED" }))).toEqual(
          ids(yield* ops.list({ partner: "insurer" })),
        )
        expect(ids(yield* ops.list({ olderThanMs: 2 * HOUR }))).toEqual([`${old}/bank.example`])
        expect(yield* ops.list({ states: ["held"] })).toEqual([])
        expect(
          ids(yield* ops.list({ partner: "bank", olderThanMs: 2 * HOUR, states: ["deferred"] })),
        ).toEqual([`${old}/bank.example`])
      }),
    )
  })
})

describe("queue hold and release", () => {
  it("holds by filter after a dry run that touches nothing; held mail is never tried, not even by a flush", async () => {
    const { run, tries } = lab("qhold")
    await run(
      Effect.gen(function* () {
        const admin = yield* QueueAdmin
        const audit = yield* QueueAudit
        const first = yield* queueDeferred(["a@bank.example"])
        const second = yield* queueDeferred(["b@bank.example", "c@eu.insurer.example"])

        const dry = yield* act({ action: { action: "hold" }, selection: { partner: "bank" }, dryRun: true })
        expect(dry.dryRun).toBe(true)
        expect(dry.touched.map((e) => e.jobId)).toEqual([`${first}/bank.example`, `${second}/bank.example`])
        expect(dry.auditId).toBeUndefined()
        expect(yield* stateOf(first)).toEqual(["deferred"])
        expect(yield* audit.recent(10)).toEqual([])

        const held = yield* act({
          action: { action: "hold", reason: "bank's new certificate not pinned yet" },
          selection: { partner: "bank" },
        })
        expect(held.touched).toHaveLength(2)
        expect(yield* stateOf(first)).toEqual(["held"])
        expect(yield* stateOf(second)).toEqual(["held", "deferred"])
        const listed = yield* Effect.flatMap(QueueOps, (ops) => ops.list({ states: ["held"] }))
        expect(listed[0]!.hold).toMatchObject({
          by: "alice (cli)",
          reason: "bank's new certificate not pinned yet",
        })

        // Holding again touches nothing; a flush (also the one after a policy change) passes held mail by.
        const again = yield* act({ action: { action: "hold" }, selection: { partner: "bank" } })
        expect(again.touched).toEqual([])
        expect(again.skipped.map((s) => s.reason)).toEqual(["already-held", "already-held"])
        const bankTries = tries("bank.example").length
        expect(yield* admin.flush({ partner: "bank" })).toBe(0)
        // Retry now promotes the insurer's deferred job and leaves the held ones.
        const retried = yield* act({
          action: { action: "retry" },
          selection: { messageIds: [first, second] },
        })
        expect(retried.touched.map((e) => e.jobId)).toEqual([`${second}/eu.insurer.example`])
        expect(retried.skipped.map((s) => [s.entry.jobId, s.reason])).toEqual([
          [`${first}/bank.example`, "held"],
          [`${second}/bank.example`, "held"],
        ])
        yield* eventually(Effect.sync(() => (tries("eu.insurer.example").length >= 2 ? true : undefined)))
        expect(tries("bank.example")).toHaveLength(bankTries)
        expect(yield* stateOf(first)).toEqual(["held"])

        // Release puts each back on its timeline: its next point (minutes away) is still ahead.
        const released = yield* act({ action: { action: "release" }, selection: { states: ["held"] } })
        expect(released.touched).toHaveLength(2)
        expect(yield* stateOf(first)).toEqual(["deferred"])
        const bull = yield* BullBoardQueue
        const job = (yield* Effect.promise(() => bull.queue.getJob(`${first}/bank.example`)))!
        expect(Number(job.delay)).toBeLessThanOrEqual(10 * 60_000)
        const log = yield* Effect.promise(() => bull.queue.getJobLogs(job.id!))
        expect(
          log.logs.some((l) => l.includes("held by alice (cli): bank's new certificate not pinned yet")),
        ).toBe(true)
        expect(log.logs.some((l) => l.includes("released by alice (cli)"))).toBe(true)

        // Every action that ran is in the fleet's audit stream, newest first; the dry run is not.
        const entries = yield* audit.recent(10)
        expect(entries.map((e) => [e.action, e.touched, e.skipped])).toEqual([
          ["release", 2, 0],
          ["retry", 1, 2],
          ["hold", 0, 2],
          ["hold", 2, 0],
        ])
        expect(entries[3]).toMatchObject({
          actor: "alice",
          via: "cli",
          reason: "bank's new certificate not pinned yet",
          selection: { partner: "bank" },
          jobIds: [`${first}/bank.example`, `${second}/bank.example`],
          messageIds: [first, second],
        })
      }),
    )
  })

  it("does not pause the timeline: mail released after its expiry bounces with EXPIRED on its next attempt", async () => {
    const { run, tries, dsns } = lab("qexpire")
    await run(
      Effect.gen(function* () {
        const bull = yield* BullBoardQueue
        const messageId = yield* queueDeferred(["a@bank.example"])
        yield* act({ action: { action: "hold" }, selection: { messageIds: [messageId] } })
        // Eleven days on hold, told in the job's own times (BullMQ's clock cannot be moved): it
        // arrived eleven days ago and its next point passed during the hold.
        const job = (yield* Effect.promise(() => bull.queue.getJob(`${messageId}/bank.example`)))!
        const now = Date.now()
        yield* Effect.promise(() =>
          job.updateData({
            ...job.data,
            queuedAt: now - 11 * DAY,
            warned: true,
            nextAttemptAt: now - 10 * DAY,
          }),
        )
        const attemptsBefore = tries("bank.example").length
        yield* act({ action: { action: "release" }, selection: { messageIds: [messageId] } })
        yield* eventually(Effect.sync(() => (dsns().length >= 1 ? true : undefined)))
        expect(tries("bank.example")).toHaveLength(attemptsBefore + 1)
        const ndr = dsns()[0]!
        expect(ndr.recipients).toEqual(["alice@customer.example"])
        expect(ndr.body.toString()).toContain("Status: 5.4.7")
        expect(ndr.body.toString()).toContain("CERT_PIN_MISMATCH")
        yield* eventually(
          Effect.promise(() => job.getState()).pipe(
            Effect.map((s) => (s === "completed" ? true : undefined)),
          ),
        )
      }),
    )
  })

  it("leaves mail that waits for a worker alone (in-attempt), and holds nothing by an empty selection", async () => {
    const deliverer = recordingDeliverer(acceptAll)
    const { queue } = queueLayers({
      redisUrl: redis.url,
      prefix: uniquePrefix("qwaiting"),
      policy: policyViewLayer(policy),
      deliverer: deliverer.layer,
    })
    const report = await Effect.runPromise(
      Effect.gen(function* () {
        const enqueue = yield* Enqueue
        const { messageId } = yield* enqueue.enqueue({
          sender: "a@customer.example",
          recipients: ["x@bank.example"],
          body,
        })
        return yield* act({ action: { action: "hold" }, selection: { messageIds: [messageId] } })
      }).pipe(Effect.provide(QueueOps.layer.pipe(Layer.provideMerge(queue))), Effect.scoped),
    )
    expect(report.touched).toEqual([])
    expect(report.skipped.map((s) => [s.entry.state, s.reason])).toEqual([["waiting", "in-attempt"]])
  })
})

describe("queue delete and bounce", () => {
  it("deletes silently (job and body gone, nobody told) and with an NDR", async () => {
    const { run, dsns } = lab("qdelete")
    await run(
      Effect.gen(function* () {
        const spool = yield* Spool
        const bull = yield* BullBoardQueue
        const silent = yield* queueDeferred(["a@eu.insurer.example"])
        const told = yield* queueDeferred(["b@eu.insurer.example"])

        const removed = yield* act({
          action: { action: "delete", notify: "silent" },
          selection: { messageIds: [silent] },
        })
        expect(removed.touched.map((e) => e.jobId)).toEqual([`${silent}/eu.insurer.example`])
        expect(yield* Effect.promise(() => bull.queue.getJob(`${silent}/eu.insurer.example`))).toBeUndefined()
        expect(yield* spool.exists(silent, 0)).toBe(false)

        yield* act({ action: { action: "delete", notify: "ndr" }, selection: { messageIds: [told] } })
        yield* eventually(Effect.sync(() => (dsns().length >= 1 ? true : undefined)))
        expect(dsns()).toHaveLength(1)
        const ndr = dsns()[0]!.body.toString()
        expect(ndr).toContain("Final-Recipient: rfc822; b@eu.insurer.example")
        expect(ndr).toContain("Status: 5.0.0")
        expect(ndr).toContain("X-mailconnect; OPERATOR_BOUNCE deleted by the mail system operator")
        yield* eventually(spool.exists(told, 0).pipe(Effect.map((exists) => (exists ? undefined : true))))
      }),
    )
  })

  it("bounces in bulk by filter with the operator's reason as the diagnostic, after a dry run", async () => {
    const { run, ndrs } = lab("qbounce")
    await run(
      Effect.gen(function* () {
        const audit = yield* QueueAudit
        const bull = yield* BullBoardQueue
        const now = Date.now()
        const old1 = yield* queueDeferred(["a@bank.example", "b@bank.example"], now - 5 * HOUR)
        const old2 = yield* queueDeferred(["c@bank.example", "d@eu.insurer.example"], now - 3 * HOUR)
        const fresh = yield* queueDeferred(["e@bank.example"])
        const selection = { partner: "bank", olderThanMs: 2 * HOUR }
        const reason = "bank.example cannot receive until its new gateway is live (ticket 4711)"

        const dry = yield* act({ action: { action: "bounce", reason }, selection, dryRun: true })
        expect(dry.touched.map((e) => e.jobId)).toEqual([`${old1}/bank.example`, `${old2}/bank.example`])
        expect(ndrs()).toEqual([])

        const bounced = yield* act({ action: { action: "bounce", reason }, selection })
        expect(bounced.touched.map((e) => e.jobId)).toEqual(dry.touched.map((e) => e.jobId))
        yield* eventually(Effect.sync(() => (ndrs().length >= 2 ? true : undefined)))
        const bodies = ndrs().map((d) => d.body.toString())
        const first = bodies.find((b) => b.includes("a@bank.example"))!
        expect(first).toContain("Final-Recipient: rfc822; b@bank.example")
        expect(first).toContain(`X-mailconnect; OPERATOR_BOUNCE ${reason}`)
        expect(first).toContain("Remote-MTA: dns; mx.bank.example")
        expect(first).toContain("Subject: quarterly report")
        const job = (yield* Effect.promise(() => bull.queue.getJob(`${old1}/bank.example`)))!
        yield* eventually(
          Effect.promise(() => job.getState()).pipe(
            Effect.map((s) => (s === "completed" ? true : undefined)),
          ),
        )
        const done = (yield* Effect.promise(() => bull.queue.getJob(`${old1}/bank.example`)))!.data
        expect(done.pending).toEqual([])
        expect(done.results.map((r: { code?: string }) => r.code)).toEqual([
          "OPERATOR_BOUNCE",
          "OPERATOR_BOUNCE",
        ])
        // The rest of the queue is as it was.
        expect(yield* stateOf(old2, "eu.insurer.example")).toEqual(["deferred"])
        expect(yield* stateOf(fresh)).toEqual(["deferred"])
        expect((yield* audit.recent(1))[0]).toMatchObject({
          action: "bounce",
          reason,
          touched: 2,
          messageIds: [old1, old2],
          selection: { partner: "bank", olderThanMs: 2 * HOUR },
        })
      }),
    )
  })
})

describe("failed jobs", () => {
  it("lists a job whose data a Redis writer replaced (failed, unreadable), refuses what it cannot do, retries it, deletes it", async () => {
    const { run, tries, deliverer } = lab("qfailed")
    await run(
      Effect.gen(function* () {
        const ops = yield* QueueOps
        const spool = yield* Spool
        const bull = yield* BullBoardQueue
        const victim = yield* queueDeferred(["a@bank.example"])
        const bystander = yield* queueDeferred(["b@bank.example"])
        const jobId = `${victim}/bank.example`
        const job = (yield* Effect.promise(() => bull.queue.getJob(jobId)))!
        // Someone with write access to Redis (not a relay) rewrites the job and makes it due.
        yield* Effect.promise(() => job.updateData({ sender: "mallory@evil.example", hostile: true }))
        yield* Effect.promise(() => job.promote())
        const failed = () =>
          ops
            .list({ states: ["failed"] })
            .pipe(Effect.map((entries) => (entries.length > 0 ? entries : undefined)))
        const [entry] = yield* eventually(failed())
        expect(entry).toMatchObject({
          jobId,
          messageId: victim,
          domain: "bank.example",
          partner: "bank",
          state: "failed",
          sender: "",
          pending: [],
          failedReason: "job data does not match version 1",
          unreadable: true,
        })
        // Nothing was sent for it: the worker refused data no relay wrote.
        expect(deliverer.requests.filter((r) => r.sender === "mallory@evil.example")).toEqual([])
        expect(tries("bank.example").filter((r) => r.recipients.includes("a@bank.example"))).toHaveLength(1)
        expect(yield* stateOf(bystander)).toEqual(["deferred"])

        for (const action of [
          { action: "hold" },
          { action: "bounce", reason: "no" },
          { action: "delete", notify: "ndr" },
        ] as const) {
          const report = yield* act({ action, selection: { messageIds: [victim] } })
          expect(report.touched).toEqual([])
          // Failed and unreadable: nothing can be built from its data.
          expect(report.skipped.map((s) => s.reason)).toEqual(["unreadable"])
        }

        // Retry hands it to a worker as it is: still unreadable, failed again, tried once more.
        const retried = yield* act({ action: { action: "retry" }, selection: { states: ["failed"] } })
        expect(retried.touched.map((e) => e.jobId)).toEqual([jobId])
        yield* eventually(
          failed().pipe(
            Effect.map((entries) => (entries?.[0]?.attempts === entry!.attempts + 1 ? true : undefined)),
          ),
        )

        // The gauge `mc_queue_jobs{state="failed"}` is set from these counts.
        const admin = yield* QueueAdmin
        expect((yield* admin.counts).failed).toBe(1)
        // `queue show` says the data are unreadable instead of showing them as a relay's.
        const shown = yield* admin.show(victim)
        expect(shown.jobs).toEqual([])
        expect(shown.unreadable).toMatchObject([
          { jobId, state: "failed", failedReason: "job data does not match version 1" },
        ])
        expect(shown.unreadable[0]).not.toHaveProperty("data")
        const removed = yield* act({
          action: { action: "delete", notify: "silent" },
          selection: { states: ["failed"] },
        })
        expect(removed.touched.map((e) => e.jobId)).toEqual([jobId])
        expect(yield* Effect.promise(() => bull.queue.getJob(jobId))).toBeUndefined()
        expect(yield* spool.exists(victim, 0)).toBe(false)
        expect(yield* ops.list({ states: ["failed"] })).toEqual([])
        expect((yield* admin.counts).failed).toBe(0)
        expect(yield* stateOf(bystander)).toEqual(["deferred"])
        expect(tries("bank.example").filter((r) => r.recipients.includes("a@bank.example"))).toHaveLength(1)
      }),
    )
  })

  it("lists a newer version's job and jobs under ids no relay builds (unreadable), and deletes them silently", async () => {
    const { run, deliverer } = lab("qplanted")
    await run(
      Effect.gen(function* () {
        const ops = yield* QueueOps
        const bull = yield* BullBoardQueue
        const bystander = yield* queueDeferred(["b@bank.example"])
        const sent = deliverer.requests.length
        // A job of a newer version, parked for a worker that can read it (never tried here).
        yield* Effect.promise(() =>
          bull.queue.add(
            "bank.example bank m-newer",
            { v: 2, messageId: "m-newer" },
            {
              jobId: "m-newer/bank.example",
              delay: HOUR,
            },
          ),
        )
        // Jobs under ids no relay builds: one parked, one due (a worker fails it).
        yield* Effect.promise(() =>
          bull.queue.add("x - y", { hostile: true }, { jobId: "planted", delay: HOUR }),
        )
        yield* Effect.promise(() => bull.queue.add("x - y", { hostile: true }, { jobId: "planted-due" }))
        const planted = () =>
          ops.list({}).pipe(
            Effect.map((entries) => entries.filter((e) => e.unreadable)),
            Effect.map((entries) => (entries.some((e) => e.state === "failed") ? entries : undefined)),
          )
        const entries = yield* eventually(planted())
        expect(entries.map((e) => [e.jobId, e.messageId, e.domain, e.state, e.failedReason]).sort()).toEqual([
          ["m-newer/bank.example", "m-newer", "bank.example", "deferred", undefined],
          ["planted", "planted", "?", "deferred", undefined],
          ["planted-due", "planted-due", "?", "failed", "job data does not match version 1"],
        ])
        // `--state failed` reads the failed list only; `--state deferred` leaves it out.
        expect((yield* ops.list({ states: ["failed"] })).map((e) => e.jobId)).toEqual(["planted-due"])
        expect((yield* ops.list({ states: ["deferred"] })).map((e) => e.jobId).sort()).toEqual(
          [`${bystander}/bank.example`, "m-newer/bank.example", "planted"].sort(),
        )

        const ids = ["m-newer", "planted", "planted-due"]
        for (const action of [{ action: "hold" }, { action: "bounce", reason: "no" }] as const) {
          const report = yield* act({ action, selection: { messageIds: ids } })
          expect(report.touched).toEqual([])
          expect(report.skipped.map((s) => s.reason)).toEqual(["unreadable", "unreadable", "unreadable"])
        }
        const removed = yield* act({
          action: { action: "delete", notify: "silent" },
          selection: { messageIds: ids },
        })
        expect(removed.touched.map((e) => e.jobId).sort()).toEqual([
          "m-newer/bank.example",
          "planted",
          "planted-due",
        ])
        expect((yield* ops.list({})).map((e) => e.jobId)).toEqual([`${bystander}/bank.example`])
        // Nothing was ever sent from any of them.
        expect(deliverer.requests).toHaveLength(sent)
      }),
    )
  })
})
