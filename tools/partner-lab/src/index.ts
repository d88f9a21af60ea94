/**
 * @mailconnect/partner-lab — misbehaving partner mail servers on loopback for tests, the local
 * stack and benchmarks: real smtp-server instances (one per scenario), a STARTTLS-stripping
 * man-in-the-middle proxy and a DNS server. Touches only 127.0.0.0/8; trusts nothing it receives.
 */
export * from "./dns-server"
export * from "./lab"
export * from "./mitm-proxy"
export * from "./mta-sts-host"
export * from "./recording"
export * from "./scenarios"
export * from "./smtp-lab-server"
