import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  attributeNamesOnce,
  EventDefinitionInput,
  eventCodeSlug,
  matchesAttrType,
  statisticsAttributes,
} from './trackingPlan.ts'

describe('tracking plans', () => {
  it('check values against attribute types', () => {
    expect(matchesAttrType('integer', 3)).toBe(true)
    expect(matchesAttrType('integer', 3.5)).toBe(false)
    expect(matchesAttrType('integer', 2 ** 53)).toBe(false)
    expect(matchesAttrType('number', 3.5)).toBe(true)
    expect(matchesAttrType('number', '3.5')).toBe(false)
    expect(matchesAttrType('string', '')).toBe(true)
    expect(matchesAttrType('boolean', 0)).toBe(false)
  })

  it('key statistics by the first string attribute and sum the first integer one', () => {
    expect(
      statisticsAttributes([
        { name: 'price', type: 'number' },
        { name: 'quantity', type: 'integer' },
        { name: 'product', type: 'string' },
        { name: 'colour', type: 'string' },
        { name: 'count', type: 'integer' },
      ]),
    ).toEqual({ keyAttr: 'product', amountAttr: 'quantity' })
    expect(statisticsAttributes([])).toEqual({ keyAttr: null, amountAttr: null })
  })

  it('make URL-safe codes from any name', () => {
    expect(eventCodeSlug('number of product views')).toBe('number_of_product_views')
    expect(eventCodeSlug('Café — Ölmühle!')).toBe('cafe_olmuhle')
    expect(eventCodeSlug('просмотры')).toBe('event')
  })

  it('name every repeat of an attribute name at its place, in the wording asked for', () => {
    const Message = z
      .object({ attrs: z.array(z.object({ name: z.string() })) })
      .check(attributeNamesOnce('appears twice'))
    const result = Message.safeParse({ attrs: [{ name: 'a' }, { name: 'b' }, { name: 'a' }, { name: 'a' }] })
    expect(result.error?.issues.map((issue) => [issue.path, issue.message])).toEqual([
      [['attrs', 2, 'name'], '"a" appears twice'],
      [['attrs', 3, 'name'], '"a" appears twice'],
    ])
    expect(Message.safeParse({ attrs: [{ name: 'a' }, { name: 'b' }] }).success).toBe(true)
  })

  it('refuse an attribute defined twice, an unknown type and a reserved name', () => {
    const twice = EventDefinitionInput.safeParse({
      name: 'e',
      attrs: [
        { name: 'a', type: 'string' },
        { name: 'a', type: 'integer' },
      ],
    })
    expect(twice.error?.issues[0]?.path).toEqual(['attrs', 1, 'name'])
    expect(EventDefinitionInput.safeParse({ name: 'e', attrs: [{ name: 'a', type: 'date' }] }).success).toBe(
      false,
    )
    expect(
      EventDefinitionInput.safeParse({ name: 'e', attrs: [{ name: '__proto__', type: 'string' }] }).success,
    ).toBe(false)
    expect(EventDefinitionInput.parse({ name: 'e' })).toEqual({ name: 'e', attrs: [] })
  })
})
