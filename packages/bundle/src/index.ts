export * from "./canonical"
export * from "./envelope"
export * from "./errors"
export * from "./keys"
