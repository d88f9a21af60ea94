export { type DnssecLab, type DnssecLabOptions, type LabEndpoint, startDnssecLab } from "./lab"
export type { LabRecord, LabSigning, LabZone } from "./zone-file"
