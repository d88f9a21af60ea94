import { simpleParser } from "mailparser"
import { describe, expect, it } from "vitest"
import { buildDsn, type DsnInput, quotedPrintable, shouldReport } from "../src"

const t0 = Date.UTC(2026, 10, 28, 9, 0, 0)
const base: DsnInput = {
  kind: "delay",
  reportingMta: "relay1.provider.example",
  queueId: "Q123",
  arrivalAt: t0,
  createdAt: t0 + 4 * 3_600_000,
  sender: "alice@customer.example",
  recipients: [
    {
      address: "bob@bank.example",
      action: "delayed",
      status: "4.7.5",
      code: "CERT_EXPIRED",
      remoteMta: "mx.bank.example",
      detail: "certificate expired 2026-11-01T00:00:00Z (CN=mx.bank.example)",
      lastAttemptAt: t0 + 4 * 3_600_000,
      willRetryUntil: t0 + 10 * 86_400_000,
    },
  ],
  originalHeaders:
    "From: alice@customer.example\r\nTo: bob@bank.example\r\nSubject: Quarterly report\r\nMessage-ID: <m1@customer.example>\r\n",
  languages: ["de", "en"],
}

/**
 * mailparser folds `message/delivery-status` into the text body, so the part is cut out along
 * the boundary the parser reported and its own headers checked.
 */
const mimePart = (raw: string, boundary: string, contentType: string): string => {
  const part = raw
    .split(`--${boundary}`)
    .find((p) => p.trimStart().toLowerCase().startsWith(`content-type: ${contentType}`))
  if (!part) throw new Error(`no ${contentType} part`)
  return part.slice(part.indexOf("\r\n\r\n") + 4)
}

/** Parses `message/delivery-status` content into per-message and per-recipient field maps. */
const parseStatus = (text: string) =>
  text
    .trim()
    .split(/\r?\n\r?\n/)
    .map((block) =>
      Object.fromEntries(
        block
          .split(/\r?\n/)
          .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim()]),
      ),
    )

describe("delivery status notification", () => {
  it("is a multipart/report a MIME parser reads back", async () => {
    const dsn = buildDsn(base)
    const parsed = await simpleParser(dsn.raw)
    expect(parsed.subject).toBe("Zustellung verzögert / Delivery delayed")
    expect(parsed.headers.get("content-type")).toMatchObject({
      value: "multipart/report",
      params: { "report-type": "delivery-status" },
    })
    expect(parsed.headers.get("auto-submitted")).toBe("auto-replied")
    expect(parsed.text).toContain("CERT_EXPIRED (4.7.5)")
    expect(parsed.text).toContain("Das Zertifikat des Servers ist abgelaufen")
    expect(parsed.text).toContain("The server's certificate has expired")
    const boundary = (parsed.headers.get("content-type") as { params: { boundary: string } }).params.boundary
    const [perMessage, recipient] = parseStatus(mimePart(dsn.raw, boundary, "message/delivery-status"))
    expect(perMessage!["Reporting-MTA"]).toBe("dns; relay1.provider.example")
    expect(recipient).toMatchObject({
      "Final-Recipient": "rfc822; bob@bank.example",
      Action: "delayed",
      Status: "4.7.5",
      "Remote-MTA": "dns; mx.bank.example",
      "Will-Retry-Until": "Tue, 08 Dec 2026 09:00:00 +0000",
    })
    expect(recipient!["Diagnostic-Code"]).toMatch(/^X-mailconnect; CERT_EXPIRED certificate expired/)
    const headers = parsed.attachments.find((a) => a.contentType === "text/rfc822-headers")
    expect(headers!.content.toString()).toContain("Subject: Quarterly report")
  })

  it("reports a permanent failure with the server's own reply", async () => {
    const dsn = buildDsn({
      ...base,
      kind: "failure",
      recipients: [
        {
          address: "nobody@bank.example",
          action: "failed",
          status: "5.1.1",
          code: "SMTP_PERMANENT",
          smtpReply: "550 5.1.1 <nobody@bank.example>: user unknown",
          remoteMta: "mx.bank.example",
        },
      ],
    })
    const parsed = await simpleParser(dsn.raw)
    expect(parsed.subject).toBe("Unzustellbar / Undeliverable")
    const boundary = (parsed.headers.get("content-type") as { params: { boundary: string } }).params.boundary
    const [, recipient] = parseStatus(mimePart(dsn.raw, boundary, "message/delivery-status"))
    expect(recipient!["Diagnostic-Code"]).toBe("smtp; 550 5.1.1 <nobody@bank.example>: user unknown")
    expect(recipient!.Action).toBe("failed")
  })

  it("goes out with a null reverse path to the sender, same bytes for the same input", () => {
    const dsn = buildDsn(base)
    expect(dsn.mailFrom).toBe("")
    expect(dsn.rcptTo).toBe("alice@customer.example")
    expect(buildDsn(base).raw).toBe(dsn.raw)
    for (const line of dsn.raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(998)
  })

  it("is never sent about a bounce", () => {
    expect(shouldReport("")).toBe(false)
    expect(shouldReport("<>")).toBe(false)
    expect(shouldReport("MAILER-DAEMON@relay.example")).toBe(false)
    expect(shouldReport("alice@customer.example")).toBe(true)
  })

  it("encodes quoted-printable with soft breaks that keep escapes whole", () => {
    const encoded = quotedPrintable(`${"ä".repeat(40)} =`)
    for (const line of encoded.split("\r\n")) expect(line.length).toBeLessThanOrEqual(76)
    expect(
      Buffer.from(
        encoded
          .replace(/=\r\n/g, "")
          .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16))),
        "latin1",
      ).toString("utf8"),
    ).toBe(`${"ä".repeat(40)} =`)
  })
})
