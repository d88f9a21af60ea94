/**
 * The short usage printed to stderr with a usage error (unknown or missing subcommand, bad
 * option or argument; exit status 2): the usage line(s) of the command the arguments got as far
 * as, and where the full help is. The full help (`--help`) stays on stdout, as it is what was
 * asked for.
 */
import { Command, CommandDescriptor, HelpDoc, Usage } from "@effect/cli"
import { Effect, HashMap, HashSet } from "effect"
import { CliExit } from "./exit"

// biome-ignore lint/suspicious/noExplicitAny: any command of the tree, whatever its handler needs
type AnyCommand = Command.Command<any, any, any, any>

interface Leaf {
  readonly name: string
  /** e.g. `show [--json] <message-id>` */
  readonly usage: string
}

interface TopLevel extends Leaf {
  /** Empty for a command without subcommands (`probe`, `timeline`). */
  readonly subcommands: ReadonlyArray<Leaf>
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is removed
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").trim()

const usageOf = (descriptor: CommandDescriptor.Command<unknown>): string =>
  plain(HelpDoc.toAnsiText(Usage.getHelp(CommandDescriptor.getUsage(descriptor))))

const nameOf = (command: AnyCommand): string => [...HashSet.values(Command.getNames(command))][0] ?? ""

/**
 * The tree below `mailconnect`, two levels deep as the CLI is (`queue show`, `probe`): a
 * command's subcommands are listed one level down only, so deeper levels would need this
 * walked further.
 */
const tree = (commands: ReadonlyArray<AnyCommand>): ReadonlyArray<TopLevel> =>
  commands.map((command) => {
    const name = nameOf(command)
    const children = [...HashMap.entries(Command.getSubcommands(command))]
      .filter(([child]) => child !== name)
      .map(([child, descriptor]) => ({ name: child, usage: usageOf(descriptor) }))
      .sort((a, b) => a.name.localeCompare(b.name))
    return {
      name,
      usage: children.length > 0 ? `${name} <command>` : usageOf(command.descriptor),
      subcommands: children,
    }
  })

/** The usage of the deepest command `args` (argv without node and script) name. */
export const shortUsage = (
  program: string,
  commands: ReadonlyArray<AnyCommand>,
  args: ReadonlyArray<string>,
): string => {
  const top = tree(commands)
  const named = args.find((a) => top.some((c) => c.name === a))
  const first = top.find((c) => c.name === named)
  if (!first)
    return [
      `usage: ${program} <command> [options]`,
      `commands: ${top.map((c) => c.name).join(", ")}`,
      `run \`${program} <command> --help\` for a command's options, \`${program} --help\` for all`,
    ].join("\n")
  const rest = args.slice(args.indexOf(first.name) + 1)
  const leafName = rest.find((a) => first.subcommands.some((s) => s.name === a))
  const leaf = first.subcommands.find((s) => s.name === leafName)
  const lines =
    first.subcommands.length === 0
      ? [`usage: ${program} ${first.usage}`]
      : leaf
        ? [`usage: ${program} ${first.name} ${leaf.usage}`]
        : ["usage:", ...first.subcommands.map((s) => `  ${program} ${first.name} ${s.usage}`)]
  const path = leaf ? `${first.name} ${leaf.name}` : first.name
  return [...lines, `run \`${program} ${path} --help\` for details`].join("\n")
}

/**
 * The handler of a command that only groups subcommands (`mailconnect queue`): without a
 * subcommand it is a usage error, not an empty success or the full help on stdout.
 */
export const missingSubcommand = (name: string) => () =>
  Effect.fail(new CliExit({ code: 2, message: `missing subcommand for ${name}` }))
