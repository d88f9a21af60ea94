/**
 * The only fakes of the loop test: `gh` and `glab`, of GitHub's and GitLab's APIs. On PATH ahead
 * of everything, they accept exactly the comment calls the workflows make — `gh pr comment N
 * --body-file F [--edit-last]` and `glab mr note N --message TEXT` — insist on the token the real
 * CLIs need, and write the body to `<capture>/pr-N/comment-K.md` (`--edit-last` rewrites the last
 * one, and fails when there is none, as gh does). Anything else exits 2.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const GH = `#!/bin/sh
set -eu
[ -n "\${GH_TOKEN:-}" ] || { echo "gh: set the GH_TOKEN environment variable" >&2; exit 4; }
[ "$#" -ge 3 ] && [ "$1" = pr ] && [ "$2" = comment ] || { echo "gh shim: only 'gh pr comment' is captured: $*" >&2; exit 2; }
pr=$3; shift 3
body=; edit=0
while [ "$#" -gt 0 ]; do
  case $1 in
    --body-file) body=$2; shift 2 ;;
    --edit-last) edit=1; shift ;;
    *) echo "gh shim: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$body" ] || { echo "gh: no such file $body" >&2; exit 1; }
dir="$SHIM_CAPTURE/pr-$pr"; mkdir -p "$dir"
n=$(ls "$dir" | wc -l)
if [ "$edit" = 1 ]; then
  [ "$n" -gt 0 ] || { echo "no comments found for current user" >&2; exit 1; }
  cp "$body" "$dir/comment-$n.md"
else
  cp "$body" "$dir/comment-$((n + 1)).md"
fi
echo "https://github.com/acme/policies/pull/$pr#issuecomment-$n"
`

const GLAB = `#!/bin/sh
set -eu
[ -n "\${GITLAB_TOKEN:-}" ] || { echo "glab: set GITLAB_TOKEN" >&2; exit 4; }
[ "$#" -ge 3 ] && [ "$1" = mr ] && [ "$2" = note ] || { echo "glab shim: only 'glab mr note' is captured: $*" >&2; exit 2; }
mr=$3; shift 3
[ "$#" -eq 2 ] && { [ "$1" = --message ] || [ "$1" = -m ]; } || { echo "glab shim: expected --message TEXT" >&2; exit 2; }
dir="$SHIM_CAPTURE/mr-$mr"; mkdir -p "$dir"
n=$(ls "$dir" | wc -l)
printf '%s\\n' "$2" > "$dir/comment-$((n + 1)).md"
`

export interface Shims {
  /** Put first on PATH. */
  readonly bin: string
  /** Machine environment the shims read (not the workflow's). */
  readonly env: Readonly<Record<string, string>>
  /** The comments posted on a pull request (`pr-N`) or merge request (`mr-N`), oldest first. */
  readonly comments: (thread: string) => ReadonlyArray<string>
}

export const installShims = (dir: string): Shims => {
  const bin = join(dir, "bin")
  const capture = join(dir, "capture")
  mkdirSync(bin, { recursive: true })
  mkdirSync(capture, { recursive: true })
  for (const [name, text] of [
    ["gh", GH],
    ["glab", GLAB],
  ] as const) {
    writeFileSync(join(bin, name), text)
    chmodSync(join(bin, name), 0o755)
  }
  return {
    bin,
    env: { PATH: `${bin}:${process.env.PATH}`, SHIM_CAPTURE: capture },
    comments: (thread) => {
      const threadDir = join(capture, thread)
      let files: Array<string>
      try {
        files = readdirSync(threadDir)
      } catch {
        return []
      }
      return files
        .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]))
        .map((f) => readFileSync(join(threadDir, f), "utf8"))
    },
  }
}
