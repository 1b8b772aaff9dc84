import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { postgresOptionsOf, postgresSettings } from './postgresSettings.ts'

const schema = z.object(postgresSettings)
const problems = (env: Record<string, string>) => {
  const parsed = schema.safeParse(env)
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
}

describe('PostgreSQL settings', () => {
  it('given a URL alone, then the defaults fill the rest, and the options follow', () => {
    const settings = schema.parse({ HOURGLASS_POSTGRES_URL: 'postgres://hourglass:secret@db:5432/hourglass' })

    expect(settings).toEqual({
      HOURGLASS_POSTGRES_URL: 'postgres://hourglass:secret@db:5432/hourglass',
      HOURGLASS_POSTGRES_SCHEMA: 'hourglass',
      HOURGLASS_POSTGRES_POOL_SIZE: 10,
    })
    expect(postgresOptionsOf(settings, 'hourglass-ingest')).toEqual({
      url: 'postgres://hourglass:secret@db:5432/hourglass',
      schema: 'hourglass',
      poolSize: 10,
      applicationName: 'hourglass-ingest',
    })
  })

  it('names each missing or wrong variable with the reason, and never repeats the URL, which holds the password', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^HOURGLASS_POSTGRES_URL: is required: /)])

    const wrong = problems({
      HOURGLASS_POSTGRES_URL: 'mysql://root:secret@db/hourglass',
      HOURGLASS_POSTGRES_SCHEMA: 'Control-Plane',
      HOURGLASS_POSTGRES_POOL_SIZE: '0',
    })

    expect(wrong).toEqual([
      expect.stringMatching(/^HOURGLASS_POSTGRES_URL: must be a postgres:\/\/ URL naming a database/),
      expect.stringMatching(/^HOURGLASS_POSTGRES_SCHEMA: must be lower-case letters, digits and underscores/),
      'HOURGLASS_POSTGRES_POOL_SIZE: must be a whole number from 1 to 100',
    ])
    expect(wrong.join('\n')).not.toContain('secret')
    expect(problems({ HOURGLASS_POSTGRES_URL: 'postgres://db:5432' })).toEqual([
      expect.stringMatching(/^HOURGLASS_POSTGRES_URL: must be a postgres:\/\/ URL naming a database/),
    ])
  })
})
