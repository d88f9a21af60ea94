export * from "./process-memory"
export * from "./prometheus"
export * from "./tagged"
