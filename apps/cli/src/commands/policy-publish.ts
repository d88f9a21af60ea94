// Placeholder while the command is being built in parallel; replaced by its owner.
import { Command } from "@effect/cli"
import { CliExit } from "../exit"

export const publishCommand = Command.make(
  "publish",
  {},
  () => new CliExit({ code: 1, message: "publish: not available yet" }),
)
