import type { EventRow } from '@hourglass/projections'

/** One event as a mobile-app producer would send it: about 300 bytes of JSON. */
export interface ProducerEvent {
  readonly id: string
  readonly name: string
  readonly timestamp: string
  readonly subject: string
  readonly session: string
  readonly attrs: Readonly<Record<string, string | number | boolean>>
}

/** Event names with a shop-like mix: many views, few purchases. */
const EVENT_NAMES = [
  'screen_view',
  'screen_view',
  'screen_view',
  'product_view',
  'product_view',
  'search',
  'add_to_cart',
  'checkout_started',
  'purchase',
  'push_opened',
] as const
const SCREENS = ['home', 'catalog', 'product_detail', 'cart', 'checkout', 'account'] as const
const PLATFORMS = ['ios', 'android', 'web'] as const
export const DISTINCT_EVENT_NAMES = new Set(EVENT_NAMES).size
/** Distinct subjects (users) a phase's events are spread over. */
const SUBJECTS = 20_000

/** A 32-bit integer hash (murmur3 finaliser): events are a pure function of their index, so runs repeat. */
const mix = (value: number): number => {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const pick = <T>(values: readonly T[], hash: number): T => values[hash % values.length]!

export interface EventFactory {
  /** What makes this factory's events: the same phase and seed give the same events anywhere. */
  readonly phase: string
  readonly seed: number
  /** The event with this index; `timestamp` is its event time in epoch ms. */
  event(index: number, timestamp: number): ProducerEvent
  /** A `POST /v1/events` body with the events `[from, from + count)`, each timed by `timeOf`. */
  batchBody(from: number, count: number, timeOf: (index: number) => number): string
}

/** Events of one phase: `phase` keeps ids unique across phases (ids are idempotency keys per source). */
export function createEventFactory(phase: string, seed: number): EventFactory {
  const event = (index: number, timestamp: number): ProducerEvent => {
    const h1 = mix(seed * 0x9e3779b1 + index)
    const h2 = mix(h1 + 0x632be5ab)
    const h3 = mix(h2 + 0x1b873593)
    return {
      id: `${phase}-${index.toString(36).padStart(8, '0')}`,
      name: pick(EVENT_NAMES, h1),
      timestamp: new Date(timestamp).toISOString(),
      subject: `user-${(h2 % SUBJECTS).toString().padStart(6, '0')}`,
      session: `sess-${h3.toString(16).padStart(8, '0')}-${(h1 >>> 8).toString(16).padStart(6, '0')}`,
      attrs: {
        screen: pick(SCREENS, h2 >>> 7),
        product: `sku-${(h3 % 50_000).toString().padStart(6, '0')}`,
        quantity: 1 + (h1 % 4),
        price: Math.round((h2 % 20_000) + 99) / 100,
        currency: 'EUR',
        platform: pick(PLATFORMS, h3 >>> 9),
        app_version: `4.${h1 % 13}.${h2 % 7}`,
        logged_in: (h3 & 1) === 1,
      },
    }
  }
  return {
    phase,
    seed,
    event,
    batchBody(from, count, timeOf) {
      const events: ProducerEvent[] = new Array(count)
      for (let i = 0; i < count; i++) events[i] = event(from + i, timeOf(from + i))
      return JSON.stringify({ events })
    },
  }
}

/** The row the events projection would write for this event (see `toEventRow`), for the direct baseline. */
export function toBaselineRow(
  event: ProducerEvent,
  scope: { accountId: string; sourceId: string },
  position: number,
  receivedAt: number,
): EventRow {
  return {
    account_id: scope.accountId,
    source_id: scope.sourceId,
    position,
    id: event.id,
    name: event.name,
    ts: Date.parse(event.timestamp),
    received_at: receivedAt,
    subject: event.subject,
    session: event.session,
    attrs: JSON.stringify(event.attrs),
  }
}

/**
 * Event times as data, so that a load generator on another thread makes the same ones:
 * `spread` over the `days` before `now`; `recent`, within the ten minutes before `now`; `at-send`,
 * the moment the batch is built give or take a device clock's couple of seconds.
 */
export type EventTimes =
  | { readonly kind: 'spread'; readonly now: number; readonly days: number; readonly seed: number }
  | { readonly kind: 'recent'; readonly now: number }
  | { readonly kind: 'at-send' }

export const eventTimes = (times: EventTimes): ((index: number) => number) => {
  switch (times.kind) {
    case 'spread':
      return spreadOver(times.now, times.days, times.seed)
    case 'recent':
      return (index) => times.now - (index % 600) * 1000
    case 'at-send':
      return (index) => Date.now() - (index % 2000)
  }
}

/** A spread of event times over the `days` before `now`, the same for every run with the same seed. */
export const spreadOver =
  (now: number, days: number, seed: number) =>
  (index: number): number =>
    now - (mix(seed + index * 0x27d4eb2f) % (days * 24 * 3600)) * 1000 - (index % 1000)
