/**
 * The bundle payload of DESIGN §4. serial, createdAt and the source commit are inputs chosen
 * by the caller (the CLI takes time from Effect's Clock), never read here, so a payload is a
 * pure function of its arguments and signing it twice yields the same bytes.
 */
import { type BundlePayload, CURRENT_SCHEMA, type LookupIndex, type PolicySet } from "@mailconnect/policy"

export interface PayloadInput {
  readonly policy: PolicySet
  readonly index: LookupIndex
  readonly serial: number
  readonly createdAt: Date
  readonly commit: string
  readonly publishedBy?: string
}

export const buildPayload = (input: PayloadInput): BundlePayload => ({
  schema: CURRENT_SCHEMA,
  serial: input.serial,
  createdAt: input.createdAt.toISOString(),
  source: {
    commit: input.commit,
    ...(input.publishedBy === undefined ? {} : { publishedBy: input.publishedBy }),
  },
  policy: input.policy,
  index: input.index,
})
