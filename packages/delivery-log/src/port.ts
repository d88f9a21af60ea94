/**
 * Where delivery-log lines go: the relay binds it to its writers (stdout, a file) and the
 * message trace. Optional for the queue (`Effect.serviceOption`): a process without it logs none.
 * Writing never fails the caller — a line that cannot be written is the writer's problem to
 * report, never a reason to defer or refuse mail.
 */
import { Context, type Effect } from "effect"
import type { DeliveryLogLine } from "./lines"

export class DeliveryLog extends Context.Tag("@mailconnect/DeliveryLog")<
  DeliveryLog,
  { readonly write: (line: DeliveryLogLine) => Effect.Effect<void> }
>() {}
