/** The relay's layers, for tests and for later work adding role layers (see main.ts). */
export * from "./config"
export * from "./layers/drain"
export * from "./layers/heartbeat"
export * from "./layers/http"
export * from "./layers/policy"
export * from "./layers/redis"
export * from "./lifecycle"
export * from "./version"
