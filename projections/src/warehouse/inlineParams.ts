/**
 * A named read's `{name:Type}` placeholders written into its text as typed literals
 * (`CAST('value', 'Type')`), for chDB. chDB runs every statement with bound parameters one at a
 * time across the whole process (its binding state is shared by all connections), so a read
 * with bound parameters waits for every other one, a projection's included; a read whose values
 * are in its text runs beside them on its own connection. Values are escaped as ClickHouse
 * string literals require (a backslash before each `\` and `'`), and the placeholder's type
 * gives the value its type, as binding does.
 */

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}/g
/** The types a placeholder may name: letters, digits, parentheses, commas, spaces and quotes. */
const TYPE = /^[A-Za-z0-9_(), ']+$/

export class InlineParamError extends Error {}

const quoted = (text: string) => `'${text.replace(/[\\']/g, '\\$&')}'`

function literal(value: unknown, name: string): string {
  switch (typeof value) {
    case 'string':
      return quoted(value)
    case 'number':
      if (!Number.isFinite(value)) throw new InlineParamError(`parameter "${name}" is not a finite number`)
      if (Number.isInteger(value) && !Number.isSafeInteger(value))
        throw new InlineParamError(`parameter "${name}" is an integer beyond 2^53; pass it as a bigint`)
      return String(value)
    case 'bigint':
      return value.toString()
    case 'boolean':
      return value ? 'true' : 'false'
    default:
      if (value === null) return 'NULL'
      if (Array.isArray(value)) return `[${value.map((item) => literal(item, name)).join(',')}]`
      throw new InlineParamError(`parameter "${name}" has a type that cannot be written as a literal`)
  }
}

/** `sql` with each `{name:Type}` replaced by `CAST(<value of name>, 'Type')`. */
export function inlineParams(sql: string, params: Readonly<Record<string, unknown>>): string {
  return sql.replace(PLACEHOLDER, (_, name: string, type: string) => {
    if (!TYPE.test(type)) throw new InlineParamError(`parameter "${name}" names an unexpected type: ${type}`)
    if (!Object.hasOwn(params, name) || params[name] === undefined)
      throw new InlineParamError(`parameter "${name}" has no value`)
    return `CAST(${literal(params[name], name)}, ${quoted(type.trim())})`
  })
}
