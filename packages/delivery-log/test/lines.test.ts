/** The delivery log's pure parts: the Message-ID of a header block, and the line as written. */
import { describe, expect, it } from "vitest"
import { jsonLine } from "../src/lines"
import { messageIdOf } from "../src/message-id"

describe("messageIdOf", () => {
  it.each([
    ["Subject: x\r\nMessage-ID: <a.b@c.example>\r\n\r\nbody", "a.b@c.example"],
    ["message-id:\r\n <folded@c.example>\r\nTo: b\r\n", "folded@c.example"],
    ["Message-Id: bare@c.example (comment)\n", "bare@c.example"],
    ["Subject: none\r\n\r\nMessage-ID: <in-body@c.example>\r\n", undefined],
    ["X-Message-ID: <not-it@c.example>\r\n", undefined],
    [`Message-ID: <${"a".repeat(300)}@c.example>\r\n`, undefined],
  ])("%j → %s", (headers, expected) => {
    expect(messageIdOf(headers)).toBe(expected)
  })
})

describe("jsonLine", () => {
  it("writes event, time and relay first, one line ending in a newline", () => {
    const text = jsonLine(
      {
        event: "dsn",
        at: "2026-12-02T00:00:00.000Z",
        queueId: "q1",
        dsnQueueId: "q1.ndr",
        kind: "failure",
        to: "alice@customer.example",
        recipients: [{ address: "bob@bank.example", status: "5.7.0", code: "CERT_EXPIRED" }],
      },
      "relay-a",
    )
    expect(text.endsWith("}\n")).toBe(true)
    expect(text.split("\n")).toHaveLength(2)
    expect(Object.keys(JSON.parse(text)).slice(0, 4)).toEqual(["event", "at", "relay", "queueId"])
  })
})
