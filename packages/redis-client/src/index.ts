export * from "./client"
export * from "./config"
export {
  type ConnectionFactoryOptions,
  type ConnectionOptions,
  ioredisOptions,
  RedisConnectionFactory,
  type RedisConnectionFactoryShape,
} from "./connection"
export * from "./errors"
export * from "./keys"
