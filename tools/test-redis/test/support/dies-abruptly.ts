/** Starts a redis-server, prints its pid, then dies by SIGKILL: no handler, no afterAll runs. */
import { redisCommand, startRedis } from "../../src"

const redis = await startRedis()
const info = String(await redisCommand(redis.port, "INFO", "server"))
const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
process.stdout.write(`${JSON.stringify({ pid })}\n`, () => process.kill(process.pid, "SIGKILL"))
