export * from "./prometheus"
