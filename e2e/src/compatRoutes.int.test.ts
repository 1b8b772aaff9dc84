import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFuzzWorld, type FuzzWorld } from './fuzz/fuzzWorld.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * What every seed-compatible API promises its clients, route by route as /docs lists them:
 * each path answers with and without its trailing slash, and no route ignores a query
 * parameter it does not know.
 */

let hg: TestHourglass
/** A credential of every kind the compat APIs take (a caller is authenticated before its query is checked). */
let world: FuzzWorld
let routes: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string }[]

/** A documented path with a value in each parameter that its schema takes. */
const concrete = (path: string) =>
  path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'user_email') return 'someone@example.org'
    if (name === 'store_id' || name === 'id') return '1'
    if (name === 'user_id') return randomUUID()
    return 'x1'
  })

/** The 404 of a path no route takes (as opposed to a route's own "not found"). */
const noRoute = (body: string) => {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message?.startsWith('no route for')
  } catch {
    return false
  }
}

beforeAll(async () => {
  hg = await startTestHourglass()
  world = await createFuzzWorld(hg.runtime.app)
  const docs = await hg.request('GET', '/docs/json')
  const paths = docs.json().paths as Record<string, Record<string, unknown>>
  routes = Object.entries(paths)
    .filter(([path]) => path.startsWith('/compat/'))
    .flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'DELETE',
        path,
      })),
    )
})
afterAll(() => hg?.close())

describe('every seed-compatible route', () => {
  it('is documented for all five seed APIs', () => {
    const apis = new Set(routes.map((r) => r.path.split('/')[2]))
    expect([...apis].sort()).toEqual(['devices', 'metrica', 'receipts', 'store-stats', 'the-eye'])
  })

  it('answers with and without its trailing slash', async () => {
    for (const { method, path } of routes) {
      const url = concrete(path)
      const other = url.endsWith('/') ? url.slice(0, -1) : `${url}/`
      for (const spelling of [url, other]) {
        const response = await hg.request(method, spelling)
        expect(noRoute(response.body), `${method} ${spelling}: ${response.body}`).toBe(false)
        expect(response.statusCode, `${method} ${spelling}`).toBeLessThan(500)
      }
    }
  })

  it('refuses a query parameter it does not know with a 400 naming it, rather than ignoring it', async () => {
    const reads = routes.filter((r) => r.method === 'GET' || r.method === 'DELETE')
    expect(reads.length).toBeGreaterThan(15)
    for (const { method, path } of reads) {
      for (const url of [concrete(path), concrete(path).replace(/\/$/, '')]) {
        // As a caller the route accepts: the first credential it does not refuse as such.
        let response = await hg.request(method, `${url}?not_a_parameter=1&also=2`)
        for (const authorization of world.authorizations) {
          if (response.statusCode !== 401 && response.statusCode !== 403) break
          response = await hg.request(method, `${url}?not_a_parameter=1&also=2`, {
            headers: { authorization },
          })
        }
        expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(400)
        expect(response.json().error.issues.map((i: { path: string }) => i.path)).toEqual([
          'querystring.not_a_parameter',
          'querystring.also',
        ])
      }
    }
  })

  it('leaves native routes to one spelling', async () => {
    const { token } = await hg.signUp()
    expect((await hg.request('GET', '/v1/sources', { token })).statusCode).toBe(200)
    const slashed = await hg.request('GET', '/v1/sources/', { token })
    expect(slashed.statusCode).toBe(404)
    expect(noRoute(slashed.body)).toBe(true)
  })
})
