import packageJson from "../package.json" with { type: "json" }

/** Reported in heartbeats and `fleet status`, so a rolling deploy can be watched. */
export const RELAY_VERSION: string = packageJson.version
