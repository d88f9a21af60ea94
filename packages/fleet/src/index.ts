export * from "./errors"
export * from "./heartbeat"
export * from "./registry"
