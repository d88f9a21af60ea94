/** Helpers that register vitest hooks (beforeAll/afterEach…): for test files only. */
export * from "./fleet-registry"
