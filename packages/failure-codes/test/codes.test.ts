import { describe, expect, it } from "vitest"
import { describeReason, FAILURE_CAUSES, FAILURE_CODES, isFailureCode } from "../src"

describe("failure code catalog", () => {
  it("describes every code, in both languages, under its own key", () => {
    for (const code of FAILURE_CODES) {
      const entry = FAILURE_CAUSES[code]
      expect(entry.code).toBe(code)
      for (const text of [entry.meaning, entry.typicalCause, entry.action]) {
        expect(text.en.length).toBeGreaterThan(10)
        expect(text.de.length).toBeGreaterThan(10)
      }
    }
    expect(Object.keys(FAILURE_CAUSES).sort()).toEqual([...FAILURE_CODES].sort())
  })
  it("uses the status classes of the design", () => {
    expect(FAILURE_CAUSES.STARTTLS_NOT_OFFERED.status).toBe("4.7.4")
    expect(FAILURE_CAUSES.CERT_PIN_MISMATCH.status).toBe("4.7.5")
    expect(FAILURE_CAUSES.CONNECT_REFUSED.status).toBe("4.4.1")
    expect(FAILURE_CAUSES.EXPIRED.status).toBe("5.4.7")
    expect(FAILURE_CAUSES.SMTP_PERMANENT.retry).toBe("bounce")
  })
  it("recognizes codes", () => {
    expect(isFailureCode("CERT_EXPIRED")).toBe(true)
    expect(isFailureCode("cert_expired")).toBe(false)
  })
})

describe("describeReason", () => {
  it("adds the pin diagnosis and the pin to add; adds nothing where the failure's words say it all", () => {
    expect(
      describeReason({
        _tag: "PinMismatch",
        observedPin: "sha256/x",
        configuredPins: [],
        looksLike: "different-issuer-or-names",
        comparedWith: "policy",
        pinToAdd: "sha256/x",
      }),
    ).toBe("looks like different-issuer-or-names; if legitimate add pin sha256/x")
    expect(describeReason({ _tag: "NameMismatch", expected: ["a"], presented: ["b"] })).toBeUndefined()
    expect(describeReason({ _tag: "CircuitOpen", openUntil: 0, consecutiveFailures: 3 })).toBeUndefined()
  })
})
