/** @mailconnect/delivery-log — the delivery log's lines (one JSON object each) and its port. */
export * from "./lines"
export * from "./message-id"
export * from "./port"
