export * from "./errors"
export * from "./limiter"
export * from "./window"
