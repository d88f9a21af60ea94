/** Redis for the relay: the connection factory and shared command client from `REDIS_URL`. */
import { RedisClient } from "@mailconnect/redis-client"

export const RedisLayer = RedisClient.layerFromEnv
