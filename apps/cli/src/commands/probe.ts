// Placeholder while the command is being built in parallel; replaced by its owner.
import { Command } from "@effect/cli"
import { CliExit } from "../exit"

export const probeCommand = Command.make(
  "probe",
  {},
  () => new CliExit({ code: 1, message: "probe: not available yet" }),
)
