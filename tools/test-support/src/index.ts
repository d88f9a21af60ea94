/**
 * @mailconnect/test-support — helpers shared by tests, the bench and the local stack. This entry
 * imports no vitest (the bench runs outside a test runner); helpers that register vitest hooks
 * are in `@mailconnect/test-support/vitest`.
 */
export * from "./bundles"
export * from "./defaults-yaml"
export * from "./distribution-lab"
export * from "./partners"
export * from "./polling"
export * from "./raw-smtp"
export * from "./redis"
export * from "./relay-stack"
