/** The `Defaults` file of a happy-path policy directory, as an operator would write it. */
export const DEFAULTS_YAML = `apiVersion: mailconnect/v1
kind: Defaults
tls:
  mode: opportunistic
  minVersion: TLSv1.2
retry:
  schedule: [5m, 10m, 20m, 40m]
  every: 1h
  warnAfter: 4h
  expireAfter: 10d
dsn:
  languages: [de, en]
`
