/**
 * Dashboard configuration, read once from the environment with Effect `Config` (every variable
 * is documented in `dashboard.env.sample`). Both accounts are required: a dashboard that starts
 * without credentials would be an open window onto the mail queue, so it refuses to start.
 */
import { trustedKeyFilesConfig } from "@mailconnect/policy-store"
import { Config, ConfigError, Context, Either, Layer, Redacted } from "effect"

export type Role = "viewer" | "admin"

export interface Account {
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly role: Role
}

export interface DashboardConfigShape {
  readonly host: string
  readonly port: number
  /** The read-only account first, the admin account second. */
  readonly accounts: ReadonlyArray<Account>
  readonly trustedKeyFiles: ReadonlyArray<string>
}

/** A user name Basic authentication can carry: no colon, no control characters, not blank. */
const userName = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) =>
      text.trim() === "" || text.includes(":") || /\p{Cc}/u.test(text)
        ? Either.left(ConfigError.InvalidData([name], "must be non-empty, without ':' or control characters"))
        : Either.right(text),
    ),
  )

const password = (name: string) =>
  Config.redacted(name).pipe(
    Config.mapOrFail((secret) =>
      Redacted.value(secret).length === 0
        ? Either.left(ConfigError.InvalidData([name], "must not be empty"))
        : Either.right(secret),
    ),
  )

const accounts = Config.all({
  viewer: Config.all({ user: userName("DASHBOARD_USER"), password: password("DASHBOARD_PASSWORD") }),
  admin: Config.all({
    user: userName("DASHBOARD_ADMIN_USER"),
    password: password("DASHBOARD_ADMIN_PASSWORD"),
  }),
}).pipe(
  Config.mapOrFail(({ viewer, admin }) =>
    // One name with two roles would make the role depend on which password was typed.
    viewer.user === admin.user
      ? Either.left(ConfigError.InvalidData(["DASHBOARD_ADMIN_USER"], "must differ from DASHBOARD_USER"))
      : Either.right<ReadonlyArray<Account>>([
          { ...viewer, role: "viewer" },
          { ...admin, role: "admin" },
        ]),
  ),
)

export const dashboardConfig: Config.Config<DashboardConfigShape> = Config.all({
  host: Config.string("DASHBOARD_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: Config.port("DASHBOARD_PORT").pipe(Config.withDefault(9590)),
  accounts,
  trustedKeyFiles: trustedKeyFilesConfig,
})

export class DashboardConfig extends Context.Tag("@mailconnect/dashboard/DashboardConfig")<
  DashboardConfig,
  DashboardConfigShape
>() {
  static layer = Layer.effect(this, dashboardConfig)
  static layerFrom = (config: DashboardConfigShape) => Layer.succeed(this, config)
}
