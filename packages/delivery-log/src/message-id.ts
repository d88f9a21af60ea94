/**
 * The Message-ID of a message (RFC 5322 §3.6.4) from its header block: unfolded, without the
 * angle brackets; undefined when there is none. Only this header is read — never content.
 */
export const messageIdOf = (headers: string): string | undefined => {
  const end = headers.search(/\r?\n\r?\n/)
  const block = (end === -1 ? headers : headers.slice(0, end)).replace(/\r?\n[ \t]+/g, " ")
  const line = block.split(/\r?\n/).find((l) => /^message-id\s*:/i.test(l))
  if (line === undefined) return undefined
  const value = line.slice(line.indexOf(":") + 1).trim()
  const bracketed = /<([^<>\s]{1,250})>/.exec(value)
  const id = bracketed ? bracketed[1] : value.split(/\s/)[0]
  return id && id.length <= 250 ? id : undefined
}
