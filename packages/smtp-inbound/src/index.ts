export * from "./auth-throttle"
export * from "./client-certificate"
export type { ClientEvent, ClientLimitsConfig } from "./client-limits"
export * from "./connectors"
export * from "./decisions"
export * from "./enqueue"
export * from "./envelope"
export * from "./ingress"
export * from "./ingress-policy"
export type {
  AcceptedMessage,
  IngressEvents,
  IngressLimits,
  IngressTls,
  ListenerConfig,
  ListenerKind,
} from "./listener"
export * from "./received"
export * from "./replies"
export * from "./sender-identity"
export * from "./tls-required"
export * from "./user-directory"
export * from "./users"
