/**
 * `mailconnect users add|remove|list --file FILE`: the submission users file the relay reads
 * (`RELAY_USERS_FILE`). Passwords are read from standard input (never from arguments, which end
 * up in shell history and process lists) and stored as salted scrypt hashes; the file is written
 * atomically with mode 0600.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import {
  formatUsersFile,
  hashPassword,
  isValidUserName,
  parseUsersFile,
  type UserRecord,
} from "@mailconnect/smtp-inbound"
import { Console, Effect } from "effect"
import { CliExit } from "../exit"
import { missingSubcommand } from "../usage"

const file = Options.file("file").pipe(Options.withDescription("the users file (RELAY_USERS_FILE)"))
const user = Args.text({ name: "user" }).pipe(Args.withDescription("user name (login)"))
const domains = Options.text("domains").pipe(
  Options.withDescription("comma-separated sender domains the user may send from"),
)

const readUsers = (path: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(path))) return new Map<string, UserRecord>()
    const text = yield* fs
      .readFileString(path)
      .pipe(Effect.mapError(() => new CliExit({ code: 1, message: `cannot read ${path}` })))
    const parsed = parseUsersFile(text)
    if (parsed.problems.length > 0)
      return yield* new CliExit({ code: 1, message: `${path}: ${parsed.problems.join("; ")}` })
    return new Map(parsed.users)
  })

const writeUsers = (path: string, users: ReadonlyMap<string, UserRecord>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const temp = `${path}.tmp-${process.pid}`
    yield* fs.writeFileString(temp, formatUsersFile(users.values()), { mode: 0o600 })
    yield* fs.rename(temp, path)
  }).pipe(Effect.mapError((e) => new CliExit({ code: 1, message: `cannot write ${path}: ${e.message}` })))

const readPassword = Effect.promise(async () => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "")
})

const add = Command.make("add", { user, file, domains }, ({ user, file, domains }) =>
  Effect.gen(function* () {
    if (!isValidUserName(user))
      return yield* new CliExit({ code: 1, message: `invalid user name ${JSON.stringify(user)}` })
    const list = domains
      .split(",")
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean)
    if (list.length === 0)
      return yield* new CliExit({ code: 1, message: "--domains names at least one domain" })
    const password = yield* readPassword
    if (password.length < 12)
      return yield* new CliExit({ code: 1, message: "password from stdin must be at least 12 characters" })
    const users = yield* readUsers(file)
    const hash = yield* Effect.promise(() => hashPassword(password))
    const existed = users.has(user)
    users.set(user, { name: user, hash, domains: list })
    yield* writeUsers(file, users)
    yield* Console.log(`${existed ? "updated" : "added"} ${user} (may send as ${list.join(", ")})`)
  }),
).pipe(Command.withDescription("Add or update a submission user; the password is read from stdin."))

const remove = Command.make("remove", { user, file }, ({ user, file }) =>
  Effect.gen(function* () {
    const users = yield* readUsers(file)
    if (!users.delete(user)) return yield* new CliExit({ code: 1, message: `no user ${user} in ${file}` })
    yield* writeUsers(file, users)
    yield* Console.log(`removed ${user}`)
  }),
).pipe(Command.withDescription("Remove a submission user."))

const list = Command.make("list", { file }, ({ file }) =>
  Effect.gen(function* () {
    const users = yield* readUsers(file)
    for (const u of [...users.values()].sort((a, b) => a.name.localeCompare(b.name)))
      yield* Console.log(`${u.name}\t${u.domains.join(",")}`)
  }),
).pipe(Command.withDescription("List submission users and their sender domains (never the hashes)."))

export const usersCommand = Command.make("users", {}, missingSubcommand("users")).pipe(
  Command.withDescription("Manage submission users (salted scrypt hashes)."),
  Command.withSubcommands([add, remove, list]),
)
