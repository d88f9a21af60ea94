/** The failure catalog's codes as a schema, for job data. */
import { FAILURE_CODES } from "@mailconnect/failure-codes"
import { Schema } from "effect"

export const FailureCodeSchema = Schema.Literal(...FAILURE_CODES)
