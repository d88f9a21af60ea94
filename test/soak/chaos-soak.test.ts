/**
 * The chaos soak (`soak.ts`) as a test. In the default run (CI) it lasts 2 minutes with two
 * relays on one AOF Redis; `pnpm test:soak` sets SOAK_MINUTES (default 30) and then runs three
 * relays on a Sentinel pair (failovers among the faults). SOAK_RELAYS, SOAK_SENTINEL=0/1 and
 * SOAK_SEED override; the seed is printed with the figures (`SOAK-FIGURES {json}`).
 */
import { describe, expect, it } from "vitest"
import { fuzzSeed } from "../resilience/support/prng"
import { runSoak, SIGTERM_BOUND_MS } from "./soak"

const minutes = Number(process.env.SOAK_MINUTES ?? 2)
const long = minutes > 5
const relays = Number(process.env.SOAK_RELAYS ?? (long ? 3 : 2))
const sentinel = process.env.SOAK_SENTINEL ? process.env.SOAK_SENTINEL === "1" : long
const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : fuzzSeed()

describe("chaos soak", () => {
  it(
    `${minutes} min, ${relays} relays${sentinel ? ", Sentinel" : ""}: 0 lost, duplicates explained, no plaintext, every message delivered or bounced with a DSN on its timeline`,
    async () => {
      const { figures, verdict, unsettled } = await runSoak({ minutes, relays, sentinel, seed })
      expect(unsettled).toEqual([])
      expect(verdict.lost).toEqual([])
      expect(verdict.unexplainedDuplicates).toEqual([])
      expect(verdict.plaintext).toEqual([])
      expect(verdict.rejectedDelivered).toEqual([])
      expect(verdict.unbounced).toEqual([])
      expect(verdict.bouncedEarly).toEqual([])
      expect(verdict.unexpectedDsns).toEqual([])
      expect(figures.sigtermExitMs.max).toBeLessThan(SIGTERM_BOUND_MS)
      // The run did what it claims: mail flowed and faults of every family were injected.
      expect(figures.accepted).toBeGreaterThan(20)
      expect(figures.delivered).toBeGreaterThan(0)
      expect(figures.relayRestarts).toBeGreaterThan(0)
      expect(Object.keys(figures.faults).length).toBeGreaterThan(2)
      const faultMet = Object.entries(figures.partnerConnections).filter(([mode]) => mode !== "good")
      if (Object.keys(figures.faults).some((k) => k.startsWith("partner-")))
        expect(faultMet.reduce((sum, [, n]) => sum + n, 0)).toBeGreaterThan(0)
    },
    (minutes * 60 + 180) * 1_000,
  )
})
