// Placeholder while the command is being built in parallel; replaced by its owner.
import { Command } from "@effect/cli"
import { CliExit } from "../exit"

export const fleetCommand = Command.make(
  "fleet",
  {},
  () => new CliExit({ code: 1, message: "fleet: not available yet" }),
)
