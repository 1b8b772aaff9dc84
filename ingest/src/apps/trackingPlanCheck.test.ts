import type { EventDefinition, IngestRules } from '@hourglass/control'
import { defaultSourceSettings, type SourceSettings } from '@hourglass/schemas'
import { describe, expect, it } from 'vitest'
import { checkAgainstPlan } from './trackingPlanCheck.ts'

const productView: EventDefinition = {
  eventCode: 'product_view-1',
  sourceId: 's',
  accountId: 'a',
  name: 'product_view',
  attrs: [
    { name: 'product', type: 'string' },
    { name: 'quantity', type: 'integer' },
  ],
  definedAt: 0,
}

const rules = (settings: Partial<SourceSettings> = {}, sessions: string[] = []): IngestRules => ({
  settings: { ...defaultSourceSettings, ...settings },
  definition: (name) => (name === productView.name ? productView : undefined),
  sessionKnown: (id) => sessions.includes(id),
})

const check = (event: { name: string; session?: string; attrs: Record<string, unknown> }, r = rules()) =>
  checkAgainstPlan(event, r, 'events[0]')

describe('checking events against a tracking plan', () => {
  it('accepts an event with exactly its defined attributes', () => {
    expect(check({ name: 'product_view', attrs: { product: 'diode', quantity: 3 } })).toEqual([])
  })

  it('names each unknown, missing and mistyped attribute with the reason', () => {
    expect(check({ name: 'product_view', attrs: { quantity: 2.5, colour: 'red' } })).toEqual([
      { path: 'events[0].attrs.product', message: 'is missing: "product_view" defines it as string' },
      {
        path: 'events[0].attrs.quantity',
        message: 'must be an integer as "product_view" defines it, not number',
      },
      {
        path: 'events[0].attrs.colour',
        message: 'is not an attribute of "product_view" (its attributes: product, quantity)',
      },
    ])
  })

  it('takes undefined names when open and refuses them when strict', () => {
    expect(check({ name: 'other', attrs: { anything: [1] } })).toEqual([])
    expect(check({ name: 'other', attrs: {} }, rules({ undefinedEvents: 'reject' }))).toEqual([
      expect.objectContaining({ path: 'events[0].name' }),
    ])
  })

  it('refuses an unknown session only when the source registers sessions', () => {
    const event = { name: 'other', session: 's-1', attrs: {} }
    expect(check(event)).toEqual([])
    expect(check(event, rules({ unknownSessions: 'reject' }))).toEqual([
      expect.objectContaining({ path: 'events[0].session' }),
    ])
    expect(check(event, rules({ unknownSessions: 'reject' }, ['s-1']))).toEqual([])
  })

  it('does not take an inherited property for an attribute', () => {
    expect(check({ name: 'product_view', attrs: { product: 'x' } })).toEqual([
      expect.objectContaining({ path: 'events[0].attrs.quantity' }),
    ])
    expect(
      check({ name: 'product_view', attrs: Object.assign(Object.create({ quantity: 1 }), { product: 'x' }) }),
    ).toEqual([expect.objectContaining({ path: 'events[0].attrs.quantity' })])
  })
})
