/**
 * smtp-server adds its own enhanced status code to handler errors, chosen from the reply code
 * alone (550 → 5.1.1, 554 → 5.6.0), which would mislabel policy refusals (ours are 5.7.1).
 * Our handler messages already begin with the right enhanced code, so for those lines the
 * automatic one is suppressed. Applied once, on import, to smtp-server's connection class.
 */
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js"

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /

type Send = (code: number, data: unknown, context?: unknown) => void
const proto = (SMTPConnection as unknown as { prototype: { send: Send; __mcPatched?: boolean } }).prototype

if (!proto.__mcPatched) {
  const original = proto.send
  proto.send = function (this: unknown, code: number, data: unknown, context?: unknown) {
    const own = typeof data === "string" && ENHANCED.test(data)
    return original.call(this, code, data, own ? false : context)
  }
  proto.__mcPatched = true
}
