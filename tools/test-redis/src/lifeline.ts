/**
 * Children that cannot outlive the test process that started them. On Linux,
 * `setpriv --pdeathsig KILL` (util-linux) asks the kernel to SIGKILL the child when its parent
 * dies — also when the parent is SIGKILLed itself, or killed by `timeout`, or ends on a closed
 * pipe (`| head`) before any `afterAll` ran. setpriv execs the command: the child keeps its pid.
 * Without setpriv the command runs as given (and is stopped only by the harness's own clean-up).
 */
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"

/** An executable on PATH (or in /usr/sbin), or undefined. */
export const systemCommand = (name: string): string | undefined =>
  [...(process.env.PATH ?? "").split(delimiter).filter((d) => d.length > 0), "/usr/sbin"]
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path))

/** `spawn` arguments that run `command` tied to this process's life. */
export const tiedToParent = (
  command: string,
  args: ReadonlyArray<string>,
): readonly [string, ReadonlyArray<string>] => {
  const setpriv = systemCommand("setpriv")
  return setpriv ? [setpriv, ["--pdeathsig", "KILL", "--", command, ...args]] : [command, args]
}
