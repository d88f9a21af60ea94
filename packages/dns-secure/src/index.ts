export {
  type AddressAnswer,
  type DnsAnswer,
  type DnsStatus,
  type MxRecord,
  type TlsaRecord,
  tlsaName,
} from "./answer"
export {
  type DnsAttempt,
  DnsBogus,
  DnsCnameChainTooLong,
  DnsInvalidName,
  DnsLookupFailed,
  DnsServerInvalid,
  type ExtendedDnsError,
  type QueryType,
  type SecureDnsError,
} from "./errors"
export { makeSecureDns, SecureDns, type SecureDnsOptions, type SecureDnsShape } from "./secure-dns"
export { type DnsServer, parseServer } from "./servers"
