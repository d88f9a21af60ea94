/**
 * `pnpm stack:send <recipient> [subject]` — the Node alternative to the swaks command the stack
 * prints: submits one message to the running stack (from .local/stack.json) over STARTTLS with
 * AUTH, verifying the relay's certificate against the dev CA, and prints the queue id.
 */
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import nodemailer from "nodemailer"
import { DEMO_SENDER_DOMAIN } from "./demo-user"
import { stackPaths } from "./paths"
import { RELAY_HOSTNAME } from "./pki"
import type { StackJson } from "./report"

const paths = stackPaths(join(dirname(fileURLToPath(import.meta.url)), "..", "..", ".."))
const [to, subject = "hello over enforced TLS"] = process.argv.slice(2)
if (!to) {
  console.error("usage: pnpm stack:send <recipient> [subject]")
  process.exit(2)
}
const stack = JSON.parse(readFileSync(paths.stackJson, "utf8")) as StackJson
const transport = nodemailer.createTransport({
  host: stack.submission.host,
  port: stack.submission.port,
  requireTLS: true,
  tls: { ca: readFileSync(join(paths.pki, "ca.pem"), "utf8"), servername: RELAY_HOSTNAME },
  auth: { user: stack.submission.user, pass: stack.submission.password },
})
const from = `${stack.submission.user}@${DEMO_SENDER_DOMAIN}`
const info = await transport.sendMail({
  from,
  to,
  subject,
  text: "Sent through the mailconnect local stack.\n",
})
const queueId = /queued as (\S+)/.exec(info.response)?.[1]
console.log(info.response)
if (queueId)
  console.log(
    `follow it: pnpm mailconnect queue show ${queueId}   (after: set -a; . .local/stack.env; set +a)`,
  )
transport.close()
