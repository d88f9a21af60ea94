export * from "./domain-name"
export * from "./duration"
export * from "./lookup"
export * from "./model"
