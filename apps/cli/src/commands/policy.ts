/** `mailconnect policy …`: check, compile, verify, diff, lookup and publish policy bundles. */
import { Command } from "@effect/cli"
import { missingSubcommand } from "../usage"
import { checkCommand } from "./policy-check"
import { compileCommand } from "./policy-compile"
import { diffCommand } from "./policy-diff"
import { lookupCommand } from "./policy-lookup"
import { publishCommand } from "./policy-publish"
import { verifyCommand } from "./policy-verify"

export const policyCommand = Command.make("policy", {}, missingSubcommand("policy")).pipe(
  Command.withDescription("Check, compile, sign, diff and publish partner policy."),
  Command.withSubcommands([
    checkCommand,
    compileCommand,
    verifyCommand,
    diffCommand,
    lookupCommand,
    publishCommand,
  ]),
)
