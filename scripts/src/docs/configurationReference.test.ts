import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { variableRows } from './configurationReference.ts'

describe('the configuration reference', () => {
  it('gives each variable its default, what it accepts and its meaning', () => {
    const schema = z.object({
      PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port'),
      TOKEN: z.string().min(32).describe('a secret'),
      LEVEL: z.enum(['info', 'debug']).optional().describe('log level'),
    })
    expect(variableRows(schema)).toEqual([
      ['`PORT`', '`8080`', 'whole number 0–65535', 'HTTP port'],
      ['`TOKEN`', '**required**', 'text of 32+ characters', 'a secret'],
      ['`LEVEL`', 'unset', '`info`, `debug`', 'log level'],
    ])
  })

  it('refuses a variable without a description', () => {
    expect(() => variableRows(z.object({ SILENT: z.string() }))).toThrow(/SILENT has no \.describe\(\)/)
  })
})
