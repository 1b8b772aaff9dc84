/**
 * Hostile inputs: what careless and hostile clients send. Each is a mutation of a valid request,
 * so that it passes the checks before the one it aims at. Everything is drawn from one seeded
 * source of numbers: the same seed sends the same inputs.
 */

/** A request as the fuzzer sends it; `payload` bytes need not be UTF-8, nor JSON. */
export interface FuzzRequest {
  readonly method: string
  /** Path and query, as sent (already percent-encoded, or deliberately not). */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly payload?: Buffer
  /** What was done to the valid request, for the report. */
  readonly mutation: string
}

export type Random = () => number

export const pick = <T>(random: Random, values: readonly T[]): T =>
  values[Math.floor(random() * values.length)]!

/** Bytes that stand in a JSON text as they are: numbers JSON.parse reads as Infinity, invalid UTF-8. */
class RawJson {
  constructor(
    readonly bytes: Buffer,
    readonly label: string,
  ) {}
}
const raw = (text: string | number[], label = String(text)) =>
  new RawJson(typeof text === 'string' ? Buffer.from(text) : Buffer.from(text), label)
/** A JSON string whose content holds bytes that are not UTF-8. */
const rawString = (bytes: number[], label: string) => raw([0x22, ...bytes, 0x22], label)

const LONE_SURROGATES = [
  '\ud800',
  'x\udbff',
  '\udc00x',
  'a\ude00\ud83d',
  '😀'.slice(0, 1),
  `name${'😀'.slice(1)}`,
]
const CONTROL_CHARACTERS = [
  '\u0000',
  'a\u0000b',
  '\u001b[2J',
  'del\u007f',
  'c1\u0085',
  'csi\u009b',
  '\t',
  'a\nb',
  '\r\n',
]
const ODD_UNICODE = [
  '\ufeff',
  'rtl\u202eevil',
  'e\u0301',
  '👩‍👩‍👧',
  '\uffff',
  '\ufffd',
  '𝔘𝔫𝔦',
  'İı',
  'ｆｕｌｌ',
  '\u2028',
]
const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE events_raw; --",
  '" OR ""="',
  "\\'",
  '1) UNION SELECT name FROM system.tables --',
  '{db:Identifier}',
  '{sourceId:String}',
  'toString(sleep(3))',
  '$(reboot)',
  '`id`',
  '<script>alert(1)</script>',
  '../../../etc/passwd',
  '..\\..\\windows',
  '%00',
  '%2e%2e%2f',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text of a log4j lookup, sent as it is.
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '0x10',
  '1e309',
  '\\N',
]
const SIZES = ['', ' ', '   ', 'x'.repeat(201), 'x'.repeat(4097), 'x'.repeat(70_000), '😀'.repeat(3000)]
const IMPOSSIBLE_DATES = [
  '2026-02-30T00:00:00Z',
  '2026-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2026-01-01T25:00:00Z',
  '2026-01-01T23:60:00Z',
  '2026-01-01T00:00:60Z',
  '-000001-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '1970-01-01T00:00:00Z',
  '2026-01-01T00:00:00+25:00',
  '2026-01-01 00:00:00',
  '2026-01-01',
  'yesterday',
  '2021-02-31 09:15:27.243860',
  '2021-01-01 24:15:27.243860',
]
const HOSTILE_STRINGS = [
  ...LONE_SURROGATES,
  ...CONTROL_CHARACTERS,
  ...ODD_UNICODE,
  ...INJECTIONS,
  ...SIZES,
  ...IMPOSSIBLE_DATES,
]
const hostileNumbers = (): unknown[] => [
  -1,
  0,
  raw('-0'),
  1.5,
  1e21,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER,
  raw('9007199254740993'),
  8.64e15,
  8.64e15 + 1,
  raw('1e309'),
  raw('-1e309'),
  raw('1e-400'),
  raw(`1${'0'.repeat(400)}`, '1 followed by 400 zeros'),
  raw('0.1e99999'),
]
const TYPE_CONFUSION = [null, true, false, [], {}, [null], { a: 1 }, '1', 1, 'true', '']
const invalidUtf8 = (): RawJson[] => [
  rawString([0xff], 'invalid byte 0xFF'),
  rawString([0x61, 0xc3], 'truncated sequence'),
  rawString([0xed, 0xa0, 0x80], 'UTF-8-encoded surrogate'),
  rawString([0xc0, 0xaf], 'overlong encoding'),
  rawString([0xf4, 0x90, 0x80, 0x80], 'beyond U+10FFFF'),
  rawString([0x61, 0x00, 0x62], 'raw NUL in a string'),
  rawString([0x61, 0x0a, 0x62], 'raw line feed in a string'),
]
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '',
  'k\ud800',
  'k\u0000',
  'x'.repeat(300),
  'toString',
  '$where',
  'a.b',
]

const nested = (depth: number, leaf: unknown): unknown => {
  let value = leaf
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value }
  return value
}

/** A value to put where the valid request has `current`: by its type, something that should not be there. */
function hostileValue(random: Random, current: unknown, key: string | number | undefined): unknown {
  const roll = random()
  if (roll < 0.12) return pick(random, TYPE_CONFUSION)
  if (typeof current === 'number') return pick(random, hostileNumbers())
  if (typeof current === 'string' || typeof current === 'boolean' || current === null) {
    if (roll < 0.2) return pick(random, invalidUtf8())
    if (typeof key === 'string' && /time|from|to|date|at$/i.test(key) && roll < 0.5)
      return pick(random, IMPOSSIBLE_DATES)
    if (roll < 0.3) return pick(random, hostileNumbers())
    const hostile = pick(random, HOSTILE_STRINGS)
    // Half of them spliced into the valid value, where they pass any check on its start.
    return typeof current === 'string' && random() < 0.5 ? `${current}${hostile}` : hostile
  }
  if (Array.isArray(current)) {
    return pick(random, [
      [],
      Array.from({ length: 1001 }, () => current[0] ?? 1),
      [...current, pick(random, HOSTILE_STRINGS)],
      [...current, ...current],
      nested(20, current),
      Array.from({ length: 20_000 }, (_, i) => i),
    ])
  }
  return pick(random, [
    {},
    nested(25, current),
    { ...(current as object), [pick(random, HOSTILE_KEYS)]: pick(random, HOSTILE_STRINGS) },
    Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, pick(random, HOSTILE_STRINGS)])),
    { deep: { deeper: [pick(random, hostileNumbers()), pick(random, HOSTILE_STRINGS)] } },
  ])
}

/** Every place in a JSON value, as paths from its root (the root itself included). */
function placesIn(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(path)
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) placesIn(item, [...path, i], out)
  } else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) placesIn(item, [...path, key], out)
  return out
}

const clone = (value: unknown): unknown => (value === undefined ? undefined : structuredClone(value))

function replaceAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value
  const copy = clone(root) as Record<string | number, unknown>
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  node[path.at(-1)!] = value
  return copy
}

function deleteAt(root: unknown, path: readonly (string | number)[]): unknown {
  const copy = clone(root) as Record<string | number, unknown>
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  const last = path.at(-1)!
  if (Array.isArray(node)) node.splice(Number(last), 1)
  else delete node[last]
  return copy
}

/** JSON bytes of a value in which RawJson parts stand as they are. */
export function jsonBytes(value: unknown): Buffer {
  const parts: RawJson[] = []
  const text = JSON.stringify(value, (_key, item) => {
    if (item instanceof RawJson) {
      parts.push(item)
      return `\u0000raw${parts.length - 1}\u0000`
    }
    return item
  })
  if (text === undefined) return Buffer.alloc(0)
  if (parts.length === 0) return Buffer.from(text)
  const chunks: Buffer[] = []
  let rest = text
  parts.forEach((part, i) => {
    const marker = `"\\u0000raw${i}\\u0000"`
    const at = rest.indexOf(marker)
    chunks.push(Buffer.from(rest.slice(0, at)), part.bytes)
    rest = rest.slice(at + marker.length)
  })
  chunks.push(Buffer.from(rest))
  return Buffer.concat(chunks)
}

const describe = (value: unknown): string => {
  if (value instanceof RawJson) return value.label
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text
}
const pathText = (path: readonly (string | number)[]) => (path.length === 0 ? 'the body' : path.join('.'))

/** Mutations of a JSON body. */
export function mutateBody(random: Random, body: unknown): { body: Buffer; mutation: string } {
  const places = placesIn(body)
  const roll = random()
  if (roll < 0.55) {
    const path = pick(random, places)
    let current: unknown = body
    for (const key of path) current = (current as Record<string | number, unknown>)[key]
    const value = hostileValue(random, current, path.at(-1))
    return {
      body: jsonBytes(replaceAt(body, path, value)),
      mutation: `${pathText(path)} = ${describe(value)}`,
    }
  }
  if (roll < 0.7) {
    const objects = places.filter((path) => {
      let node: unknown = body
      for (const key of path) node = (node as Record<string | number, unknown>)[key]
      return node !== null && typeof node === 'object' && !Array.isArray(node)
    })
    const path = objects.length > 0 ? pick(random, objects) : []
    const key = pick(random, HOSTILE_KEYS)
    const value = key === 'constructor' ? { prototype: { polluted: true } } : pick(random, HOSTILE_STRINGS)
    let node: unknown = body
    for (const step of path) node = (node as Record<string | number, unknown>)[step]
    const withKey = { ...(node as object) }
    Object.defineProperty(withKey, key, { value, enumerable: true, configurable: true, writable: true })
    return {
      body: jsonBytes(replaceAt(body, path, withKey)),
      mutation: `key ${describe(key)} added to ${pathText(path)}`,
    }
  }
  if (roll < 0.8 && places.length > 1) {
    const path = pick(random, places.slice(1))
    return { body: jsonBytes(deleteAt(body, path)), mutation: `${pathText(path)} removed` }
  }
  return wholeBody(random, jsonBytes(body))
}

/** Attacks on a body as a whole: its size, depth, encoding and syntax. */
export function wholeBody(random: Random, valid: Buffer): { body: Buffer; mutation: string } {
  const text = valid.toString('utf8')
  const attacks: [string, () => Buffer][] = [
    ['truncated', () => valid.subarray(0, Math.floor(random() * valid.length))],
    ['nested 33 deep', () => Buffer.from(`${'['.repeat(33)}${text}${']'.repeat(33)}`)],
    ['nested 100,000 deep', () => Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)],
    ['objects nested 10,000 deep', () => Buffer.from(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`)],
    ['over 1 MiB', () => Buffer.from(JSON.stringify({ big: 'x'.repeat(1_100_000) }))],
    [
      'just under 1 MiB of keys',
      () =>
        Buffer.from(
          JSON.stringify(Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, i]))),
        ),
    ],
    ['empty', () => Buffer.alloc(0)],
    ['blank', () => Buffer.from('   \n')],
    ['null', () => Buffer.from('null')],
    ['a number', () => Buffer.from('1e309')],
    ['a string', () => Buffer.from('"\\ud800"')],
    ['an array', () => Buffer.from(`[${text}]`)],
    ['a byte-order mark first', () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid])],
    ['trailing garbage', () => Buffer.from(`${text}}`)],
    ['duplicate keys', () => Buffer.from(text.replace(/^\{/, '{"__proto__":1,"a":1,"a":2,'))],
    [
      'invalid UTF-8 between tokens',
      () =>
        Buffer.concat([Buffer.from(text.slice(0, 1)), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(1))]),
    ],
    ['UTF-16', () => Buffer.from(text, 'utf16le')],
    ['raw NUL bytes', () => Buffer.from(text.replace(/"/, '"\u0000'))],
  ]
  const [mutation, make] = pick(random, attacks)
  return { body: make(), mutation: `body ${mutation}` }
}

/** Path segments as sent, some deliberately not decodable. */
export const HOSTILE_SEGMENTS = [
  '%00',
  '%ED%A0%80',
  '%FF',
  '%C0%AF',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '%25',
  '%',
  '%%',
  '%uD800',
  '%F0%9F%98%80',
  'x'.repeat(300),
  '-1',
  '0',
  '99999999999999999999',
  '1e309',
  'NaN',
  '~',
  ...INJECTIONS.map(encodeURIComponent),
  ...CONTROL_CHARACTERS.map(encodeURIComponent),
  ...IMPOSSIBLE_DATES.map(encodeURIComponent),
]

/** Query values as sent. */
export const HOSTILE_QUERY_VALUES = [
  ...HOSTILE_SEGMENTS,
  '',
  '-1',
  '1.5',
  '1e309',
  '-0',
  '99999999999999999999999',
  '2026-02-30',
  '0000-00-00',
  String(8.64e15 + 1),
  encodeURIComponent('2026-01-01T00:00:00+25:00'),
  'true&partial=true',
]

/** Authorization header values a careless or hostile client sends. */
export const hostileAuthorizations = (valid: string): string[] => [
  '',
  'Bearer',
  'Bearer ',
  `${valid}x`,
  valid.replace(/^\w+ /, ''),
  `Bearer ${'A'.repeat(10_000)}`,
  'Bearer hg_x_y',
  'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
  `Basic ${Buffer.from([0xff, 0x3a, 0x78]).toString('base64')}`,
  `Basic ${Buffer.from('no-colon').toString('base64')}`,
  'Basic !!!',
  `Token ${'x'.repeat(5)}`,
  'Digest username="x"',
]

export const HOSTILE_CONTENT_TYPES = [
  'text/plain',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/xml',
]
