import { z } from 'zod'
import { keyIssueMessage } from './errors.ts'

/**
 * The one rule for what clients may write, applied by every schema of every write route and by
 * the JSON body parser in front of them.
 *
 * Every string is well-formed Unicode. A lone UTF-16 surrogate (the JSON escape "\ud800", or a
 * string cut in the middle of an emoji) has no faithful encoding: ClickHouse refuses it, and
 * UTF-8 encoders turn every one into U+FFFD, so two ids accepted as different become one.
 *
 * Beyond that, by class of field:
 * - `name`: ids, names, types, codes and keys hold no control character at all (C0, DEL, C1):
 *   they are keys, labels and parts of paths, where an invisible character only misleads.
 * - `text`: free text (attribute values, strings inside free-form JSON) may hold tab, line feed
 *   and carriage return, since text has lines; no other control character.
 * - `any`: secrets (passwords, API keys) may hold any well-formed text: they are only hashed or
 *   compared, never stored or shown.
 *
 * Numbers are finite everywhere, free-form JSON included (JSON.parse reads 1e309 as Infinity).
 */
export type TextClass = 'name' | 'text' | 'any'

/** The ES2024 string methods Node has had since 20; the TypeScript lib here is ES2023, which lacks them. */
type Es2024String = string & { isWellFormed(): boolean; toWellFormed(): string }

/** Whether `value` is well-formed Unicode: no lone surrogate. Native, so cheap enough for every row. */
export const isWellFormed = (value: string): boolean => (value as Es2024String).isWellFormed()

/** `value` with each lone surrogate replaced by U+FFFD, as a UTF-8 encoder writes it. */
export const toWellFormed = (value: string): string => (value as Es2024String).toWellFormed()

/** A JSON value with every string and key made well-formed (see `toWellFormed`). */
export const toWellFormedJson = (value: unknown): unknown => {
  if (typeof value === 'string') return toWellFormed(value)
  if (Array.isArray(value)) return value.map(toWellFormedJson)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [toWellFormed(key), toWellFormedJson(inner)]),
  )
}

const isLineText = (code: number) => code === 0x09 || code === 0x0a || code === 0x0d

/** Index of the first UTF-16 unit of `value` that breaks the rule of `kind`, or -1 when none does. */
export function textFault(value: string, kind: TextClass): number {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x7f) {
      if (code < 0x20 && kind !== 'any' && !(kind === 'text' && isLineText(code))) return i
    } else if (code <= 0x9f) {
      if (kind !== 'any') return i
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1)
      if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return i
      i++
    }
  }
  return -1
}

/** Why the UTF-16 unit at `index` of `value` breaks the rule. */
export function textFaultMessage(value: string, index: number): string {
  const code = value.charCodeAt(index)
  const unit = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  return code >= 0xd800 && code <= 0xdfff
    ? `must be well-formed Unicode: a lone surrogate (${unit}) at index ${index}`
    : `must not contain control characters (${unit} at index ${index})`
}

/** The rule's message for `value` as a field of class `kind`, or null when it keeps the rule. */
export function textIssue(value: string, kind: TextClass): string | null {
  const index = textFault(value, kind)
  return index < 0 ? null : textFaultMessage(value, index)
}

const FINITE_MESSAGE = 'must be a finite number'

/** Where a JSON value breaks a rule, and why. */
export interface JsonFault {
  /** Keys and indexes from the value's root to the offending string, number or object. */
  readonly path: PropertyKey[]
  readonly message: string
}

/** What a walk over a JSON value checks: each string, each object key, each number. */
export interface JsonRule {
  string(value: string): string | null
  key(key: string): string | null
  number(value: number): string | null
}

/**
 * The first place, depth first, where a parsed JSON value breaks `rule`; null when it keeps
 * it everywhere. The JSON parser bounds nesting, so the walk's depth is bounded too.
 */
export function findJsonFault(value: unknown, rule: JsonRule, path: PropertyKey[] = []): JsonFault | null {
  if (typeof value === 'string') {
    const message = rule.string(value)
    return message === null ? null : { path, message }
  }
  if (typeof value === 'number') {
    const message = rule.number(value)
    return message === null ? null : { path, message }
  }
  if (typeof value !== 'object' || value === null) return null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const fault = findJsonFault(value[i], rule, [...path, i])
      if (fault) return fault
    }
    return null
  }
  for (const key of Object.keys(value)) {
    const message = rule.key(key)
    if (message !== null) return { path, message: keyIssueMessage(key, message) }
    const fault = findJsonFault((value as Record<string, unknown>)[key], rule, [...path, key])
    if (fault) return fault
  }
  return null
}

/** Every string and key well-formed Unicode; nothing else is asked (the body parser's rule). */
export const wellFormedJson: JsonRule = {
  string: (value) => textIssue(value, 'any'),
  key: (key) => textIssue(key, 'any'),
  number: () => null,
}

/** Free-form JSON: keys are names, strings free text, numbers finite. */
export const freeFormJson: JsonRule = {
  string: (value) => textIssue(value, 'text'),
  key: (key) => textIssue(key, 'name'),
  number: (value) => (Number.isFinite(value) ? null : FINITE_MESSAGE),
}

const ruleOf =
  (kind: TextClass) =>
  (ctx: { value: string; issues: z.core.$ZodRawIssue[] }): void => {
    const message = textIssue(ctx.value, kind)
    // `continue`: a union with this type among its options reports this issue, not "Invalid input".
    if (message !== null) ctx.issues.push({ code: 'custom', message, input: ctx.value, continue: true })
  }

/** An id, name, type or code a client chooses: 1 to `max` characters, no control character. */
export const identifier = (max: number) => z.string().min(1).max(max).check(ruleOf('name'))

/** A name people give (an account, a store, a person, a place): trimmed, 1 to `max` characters. */
export const trimmedName = (max: number) => z.string().trim().min(1).max(max).check(ruleOf('name'))

/** Free text of at most `max` characters: lines allowed, no other control character. */
export const freeText = (max: number) => z.string().max(max).check(ruleOf('text'))

const freeFormRule = (ctx: { value: unknown; issues: z.core.$ZodRawIssue[] }): void => {
  const fault = findJsonFault(ctx.value, freeFormJson)
  if (fault)
    ctx.issues.push({
      code: 'custom',
      path: fault.path,
      message: fault.message,
      input: ctx.value,
      continue: true,
    })
}

type Json = z.core.util.JSONType

/**
 * A free-form JSON object (a store event's or The Eye's `data`), held to the rule all through.
 * Its values are parsed JSON: what the rule lets through is JSON, so it is typed as JSON.
 */
export const freeFormObject = (params?: { error: string }) =>
  z.record(z.string(), z.unknown(), params).check(freeFormRule) as unknown as z.ZodType<Record<string, Json>>
export const FreeFormObject = freeFormObject()

/** A free-form JSON array, held to the rule all through. */
export const FreeFormArray = z.array(z.unknown()).check(freeFormRule) as unknown as z.ZodType<Json[]>
