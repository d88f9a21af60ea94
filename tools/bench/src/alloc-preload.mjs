/**
 * `pnpm bench --alloc`: loaded into every relay (`node --import`); samples every allocation —
 * also of objects the GC has already collected, which a heap snapshot or `--heap-prof` never
 * shows — and writes the sampling profile (`.heapprofile`, Chrome DevTools › Memory) to
 * `BENCH_ALLOC_PROFILE_DIR` when the relay exits. The session is in-thread: `post` answers at once,
 * so the profile is written from the `exit` handler.
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { join } from "node:path"

const dir = process.env.BENCH_ALLOC_PROFILE_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post("HeapProfiler.enable")
  session.post("HeapProfiler.startSampling", {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  process.on("exit", () => {
    session.post("HeapProfiler.stopSampling", (error, result) => {
      if (error) console.error("allocation profile not written", error)
      else writeFileSync(join(dir, `relay.${process.pid}.heapprofile`), JSON.stringify(result.profile))
    })
  })
}
