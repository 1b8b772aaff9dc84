import { z } from 'zod'
import { producerId } from './telemetry.ts'

/**
 * A source's tracking plan: the events it defines, each with typed attributes, and how
 * strictly ingest holds events to it.
 */
export const attrTypes = ['string', 'integer', 'number', 'boolean'] as const
export const AttrType = z.enum(attrTypes)
export type AttrType = z.infer<typeof AttrType>

/** An attribute's name: `__proto__` would not survive as a key of a JavaScript object. */
export const AttributeName = producerId(128).refine((name) => name !== '__proto__', {
  error: 'is a reserved name',
})

export const AttributeDefinition = z.strictObject({ name: AttributeName, type: AttrType })
export type AttributeDefinition = z.infer<typeof AttributeDefinition>

export const MAX_DEFINED_ATTRIBUTES = 64

/**
 * A check of an object's `attrs`: each name once. A repeated name is an issue at its
 * `attrs[i].name`, saying `"name" <said>`.
 */
export const attributeNamesOnce =
  (said: string) =>
  <T extends { readonly attrs: readonly { readonly name: string }[] }>(ctx: z.core.ParsePayload<T>) => {
    const seen = new Set<string>()
    ctx.value.attrs.forEach((attr, index) => {
      if (seen.has(attr.name))
        ctx.issues.push({
          code: 'custom',
          path: ['attrs', index, 'name'],
          message: `"${attr.name}" ${said}`,
          input: attr.name,
        })
      seen.add(attr.name)
    })
  }

/** One event of a tracking plan as a client defines it. */
export const EventDefinitionInput = z
  .strictObject({
    name: producerId(200),
    attrs: z
      .array(AttributeDefinition)
      .max(MAX_DEFINED_ATTRIBUTES, { error: `must hold at most ${MAX_DEFINED_ATTRIBUTES} attributes` })
      .default([]),
  })
  .check(attributeNamesOnce('is defined twice'))
export type EventDefinitionInput = z.input<typeof EventDefinitionInput>

/** How ingest treats events of names the plan does not define and sessions it does not know. */
export const SourceSettings = z.object({
  undefinedEvents: z.enum(['accept', 'reject']),
  unknownSessions: z.enum(['accept', 'reject']),
})
export type SourceSettings = z.infer<typeof SourceSettings>

/** What a source created without settings does: everything is accepted, as before plans existed. */
export const defaultSourceSettings: SourceSettings = Object.freeze({
  undefinedEvents: 'accept',
  unknownSessions: 'accept',
})

/** Whether a value has an attribute type. Integers are safe integers; numbers are finite. */
export function matchesAttrType(type: AttrType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value)
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'boolean':
      return typeof value === 'boolean'
  }
}

/** The JSON type of a value, as error messages name it. */
export function describeValueType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/**
 * Which attributes per-user statistics use: values of the first string attribute are the keys,
 * each valued with the sum of the first integer attribute (or the count of events without one).
 */
export function statisticsAttributes(attrs: readonly AttributeDefinition[]): {
  keyAttr: string | null
  amountAttr: string | null
} {
  return {
    keyAttr: attrs.find((a) => a.type === 'string')?.name ?? null,
    amountAttr: attrs.find((a) => a.type === 'integer')?.name ?? null,
  }
}

/** A name in lower-case ASCII letters and digits, runs of anything else as one `separator`. */
const slugOf = (name: string, separator: string) =>
  name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, separator)
    .slice(0, 48)
    .split(separator)
    .filter(Boolean)
    .join(separator)

/**
 * A stable, URL-safe code for an event definition: a slug of its name and a random id, like
 * the seed's `number_of_product_views-uuid`.
 */
export function eventCodeSlug(name: string): string {
  return slugOf(name, '_') || 'event'
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Metrica's app code (seed 000's `electronic-shop-uuid`): a slug of the app's name, then its source id. */
export const metricaAppCode = (source: { readonly sourceId: string; readonly name: string }): string =>
  `${slugOf(source.name, '-') || 'app'}-${source.sourceId}`

/** The source id an app code ends with (a bare source id is an app code too), or null. */
export const sourceIdOfAppCode = (code: string): string | null => {
  const id = UUID.exec(code)?.[0]
  return id !== undefined && (code.length === id.length || code[code.length - id.length - 1] === '-')
    ? id
    : null
}

/** Whether an app code names this source: its own code, or its bare id (as earlier app codes were). */
export const isAppCodeOf = (code: string, source: { readonly sourceId: string; readonly name: string }) =>
  code === source.sourceId || code === metricaAppCode(source)
