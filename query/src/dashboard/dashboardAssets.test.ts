import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { dashboardAssets } from './dashboardAssets.ts'

const built = mkdtempSync(join(tmpdir(), 'hourglass-dashboard-build-'))
mkdirSync(join(built, 'assets'))
writeFileSync(join(built, 'index.html'), '<!doctype html><title>Hourglass</title>')
writeFileSync(join(built, 'assets', 'index-abc123.js'), 'console.log(1)')
const empty = mkdtempSync(join(tmpdir(), 'hourglass-dashboard-none-'))
afterAll(() => {
  rmSync(built, { recursive: true, force: true })
  rmSync(empty, { recursive: true, force: true })
})

const appWith = async (root: string) => {
  const app = Fastify()
  app.get('/v1/things', async () => ({ things: [] }))
  await app.register(dashboardAssets, { root })
  return app
}

describe('the dashboard assets', () => {
  it('serves the page at / under a same-origin content policy, and hashed assets for good', async () => {
    const app = await appWith(built)
    const page = await app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/)
    expect(page.headers['content-security-policy']).toMatch(/connect-src 'self'/)
    const script = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' })
    expect(script.statusCode).toBe(200)
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    await app.close()
  })

  it('leaves every other path to the API: its routes and its 404s', async () => {
    const app = await appWith(built)
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).json()).toEqual({ things: [] })
    expect((await app.inject({ method: 'GET', url: '/v1/nothing' })).statusCode).toBe(404)
    expect((await app.inject({ method: 'GET', url: '/assets/../../etc/passwd' })).statusCode).toBe(404)
    await app.close()
  })

  it('says how to build the dashboard when it is not built', async () => {
    const app = await appWith(empty)
    const page = await app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(503)
    expect(page.body).toMatch(/npm run build/)
    await app.close()
  })
})
