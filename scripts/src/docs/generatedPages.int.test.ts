import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatedPages } from './generatedPages.ts'
import { repositoryRoot } from './repositoryRoot.ts'

describe('the generated reference pages', () => {
  it('are checked in as npm run docs writes them now', async () => {
    const pages = await generatedPages()
    expect(Object.keys(pages).sort()).toEqual([
      'docs/reference/configuration.md',
      'docs/reference/errors.md',
      'docs/reference/routes.md',
    ])
    for (const [path, fresh] of Object.entries(pages)) {
      const checkedIn = readFileSync(join(repositoryRoot, path), 'utf8')
      expect(checkedIn, `${path} is stale: run npm run docs and commit it`).toBe(fresh)
    }
  })

  it('list every error code, every configuration variable and routes of every API', async () => {
    const pages = await generatedPages()
    expect(pages['docs/reference/errors.md']).toContain('| `RATE_LIMITED`')
    expect(pages['docs/reference/configuration.md']).toContain('| `HOURGLASS_PROJECTION_BATCH_SIZE`')
    expect(pages['docs/reference/configuration.md']).toMatch(/`KAFKA_BROKERS` +\| \*\*required\*\*/)
    for (const api of ['/v1/events', '/compat/metrica', '/compat/the-eye', '/compat/receipts'])
      expect(pages['docs/reference/routes.md']).toContain(`## \`${api}\``)
  })
})
