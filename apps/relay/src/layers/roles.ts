/** The layers of the roles this relay runs (RELAY_ROLES), over the shared queue. */
import { Effect, Layer } from "effect"
import { RelayConfig } from "../config"
import { RoleConfig } from "../smtp-config"
import { DeliveryLayer } from "./delivery"
import { DeliveryLogLayer } from "./delivery-log"
import { IngressLayer } from "./ingress"
import { PartnerWatchGauges } from "./partner-watch"
import { QueueLayer } from "./queue"
import { RouteWatch } from "./route-watch"

export const RolesLayer = Layer.unwrapEffect(
  Effect.map(RelayConfig, (config) => {
    const roles = [
      ...(config.roles.includes("ingress") ? [IngressLayer] : []),
      ...(config.roles.includes("delivery") ? [DeliveryLayer] : []),
    ]
    // One delivery log for both roles: the ingress writes accepted messages, the worker attempts and DSNs.
    return Layer.mergeAll(Layer.empty, ...roles, PartnerWatchGauges, RouteWatch).pipe(
      Layer.provide(DeliveryLogLayer),
      Layer.provide(QueueLayer),
      Layer.provide(RoleConfig.layer),
    )
  }),
)
