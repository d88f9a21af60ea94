/**
 * Our relay's client certificates for mtls, by the name a partner policy gives. Key material comes
 * from relay configuration (a directory of `<name>.crt` + `<name>.key`), never from the bundle.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Context, Effect, Layer, Option } from "effect"
import type { ClientCertificate } from "./session"

export interface ClientCertificateStore {
  readonly get: (name: string) => Effect.Effect<Option.Option<ClientCertificate>>
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

export class ClientCertificates extends Context.Tag("@mailconnect/ClientCertificates")<
  ClientCertificates,
  ClientCertificateStore
>() {
  /** Reads `<dir>/<name>.crt` and `<dir>/<name>.key` when asked (so renewed files are picked up). */
  static readonly layerFromDirectory = (dir: string) =>
    Layer.succeed(ClientCertificates, {
      get: (name) =>
        SAFE_NAME.test(name)
          ? Effect.tryPromise(async () => ({
              name,
              cert: await readFile(join(dir, `${name}.crt`), "utf8"),
              key: await readFile(join(dir, `${name}.key`), "utf8"),
            })).pipe(Effect.option)
          : Effect.succeed(Option.none()),
    })

  /** From `RELAY_CLIENT_CERTS`; none configured when unset. */
  static readonly layerFromEnv = Layer.suspend(() =>
    process.env.RELAY_CLIENT_CERTS
      ? ClientCertificates.layerFromDirectory(process.env.RELAY_CLIENT_CERTS)
      : ClientCertificates.layerStatic({}),
  )

  /** Certificates held in memory (tests, probe with --client-cert/--client-key). */
  static readonly layerStatic = (certificates: Readonly<Record<string, { cert: string; key: string }>>) =>
    Layer.succeed(ClientCertificates, {
      get: (name) => {
        const found = certificates[name]
        return Effect.succeed(found ? Option.some({ name, ...found }) : Option.none())
      },
    })
}
