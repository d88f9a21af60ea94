/** Puts PEMs on disk (for the local stack): keys get mode 0600. */
import { chmod, mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"

export const writePemFiles = async (dir: string, files: Readonly<Record<string, string>>): Promise<void> => {
  await mkdir(dir, { recursive: true })
  for (const [name, pem] of Object.entries(files)) {
    const path = join(dir, name)
    const secret = name.endsWith(".key")
    await writeFile(path, pem, { mode: secret ? 0o600 : 0o644 })
    if (secret) await chmod(path, 0o600)
  }
}
