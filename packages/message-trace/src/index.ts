/** @mailconnect/message-trace — the fleet's message trace in Redis, fed by the delivery log's lines. */
export * from "./errors"
export * from "./layout"
export * from "./summary"
export * from "./trace-index"
export * from "./writer"
