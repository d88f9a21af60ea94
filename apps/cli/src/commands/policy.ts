/** `mailconnect policy …`: check, compile, verify, diff, lookup and publish policy bundles. */
import { Command } from "@effect/cli"
import { publishCommand } from "./policy-publish"

export const policyCommand = Command.make("policy").pipe(
  Command.withDescription("Check, compile, sign, diff and publish partner policy."),
  Command.withSubcommands([publishCommand]),
)
