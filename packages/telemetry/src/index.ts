export * from "./process-memory"
export * from "./prometheus"
