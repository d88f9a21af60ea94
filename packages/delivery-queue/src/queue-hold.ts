/**
 * How a hold is written in BullMQ's terms: the job delayed by a century. BullMQ then never hands
 * it to a worker, and the job's own `delay` field tells a held job from a deferred one without
 * anything in the job data (which only the worker writes). Only a release ends it: `queue flush`,
 * the flush after a policy change and `queue retry` leave held jobs alone.
 */
export const HOLD_DELAY_MS = 100 * 365 * 86_400_000

/** BullMQ keeps `delay` as given by `changeDelay`; a worker's or a promotion's delay is far below. */
export const isHeldDelay = (delay: unknown): boolean => Number(delay) >= HOLD_DELAY_MS
