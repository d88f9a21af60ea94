/**
 * The delivery queue's `PartnerBreakers` port bound to the outbound adapter's `Destinations`: a
 * policy change for a partner closes the breakers of the next hops its mail used, before the
 * targeted flush promotes its waiting mail.
 */
import { PartnerBreakers } from "@mailconnect/delivery-queue"
import { Destinations } from "@mailconnect/smtp-outbound"
import { Effect, Layer } from "effect"

export const PartnerBreakersFromDestinations = Layer.effect(
  PartnerBreakers,
  Effect.map(Destinations, (destinations) => ({ resetPartner: destinations.resetPartner })),
)
