import { randomBytes } from 'node:crypto'
import { createPostgresControlStore, type PostgresControlStore } from '@hourglass/log/postgres'
import { scratchSchemas } from '@hourglass/log/postgres/testing'
import { HourglassError } from '@hourglass/schemas'
import { afterAll, describe, expect, it } from 'vitest'
import type { ControlPlane } from '../controlPlane.ts'
import type { PersonKeyStore } from '../people/personalData.ts'
import { createPostgresPersonKeyStore } from '../people/postgresPersonKeyStore.ts'
import { embeddedControlPlanes, startControlPlanes } from '../testing/controlPlanes.ts'

/**
 * Two processes over one control store: a source or a token revoked through one is refused by
 * the other at once, although the other held the source and had let its tokens through; a
 * process that folds the log afresh knows both revocations.
 */

interface TwoProcesses {
  readonly one: ControlPlane
  readonly two: ControlPlane
  /** A third process, started after the revocations. */
  fresh(): Promise<ControlPlane>
  close(): Promise<void>
}

const embedded = async (): Promise<TwoProcesses> => {
  const control = await embeddedControlPlanes({ count: 2 })
  const [one, two] = control.planes as [ControlPlane, ControlPlane]
  return { one, two, fresh: () => control.plane(), close: () => control.close() }
}

const postgres = async (): Promise<TwoProcesses> => {
  const schemas = scratchSchemas('revocations')
  const stores: PostgresControlStore[] = []
  const options = schemas.options()
  const storeOfAProcess = async () => {
    const store = await createPostgresControlStore(options)
    stores.push(store)
    return store
  }
  const keys: PersonKeyStore = await createPostgresPersonKeyStore({
    postgres: schemas.options(),
    masterKey: randomBytes(32),
  })
  const first = await startControlPlanes(await storeOfAProcess(), keys)
  const second = await startControlPlanes(await storeOfAProcess(), keys)
  return {
    one: first.planes[0]!,
    two: second.planes[0]!,
    fresh: async () => (await startControlPlanes(await storeOfAProcess(), keys)).planes[0]!,
    async close() {
      await Promise.all(stores.map((store) => store.close()))
      await keys.close()
      await Promise.all([first.passwords.close(), second.passwords.close()])
      await schemas.dropAll()
    },
  }
}

/** The error a promise is refused with (the test fails when it is not refused). */
const refusal = async (promise: Promise<unknown>) => {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  )
  expect(outcome).toBeInstanceOf(HourglassError)
  const { code, message } = outcome as HourglassError
  return { code, message }
}

const revokedSource = {
  code: 'FORBIDDEN',
  message: 'the source has been revoked: it sends nothing, with any credential',
}

describe.each([
  ['the embedded control log', embedded],
  ['PostgreSQL', postgres],
])('revocations across processes over %s', (_, open) => {
  let processes: TwoProcesses | undefined
  afterAll(() => processes?.close())

  it('a token or a source revoked through one process is refused by the other at once', async () => {
    processes = await open()
    const { one, two } = processes
    // Given a source with two tokens that both processes have let through.
    const {
      source,
      apiToken: first,
      tokenId: firstId,
    } = await one.createSource('account-1', {
      kind: 'app',
      name: 'revoked',
    })
    const { apiToken: second, tokenId: secondId } = await one.apps.issueApiToken(source)
    for (const plane of [one, two])
      for (const token of [first, second]) expect(await plane.authenticateSource(token)).toEqual(source)

    // When one process revokes the first token.
    expect(await one.revocations.revokeApiToken(source, firstId)).toMatchObject({ tokenId: firstId })
    // Then the other refuses it as revoked, and still lets the second through.
    expect(await refusal(two.authenticateSource(first))).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'the API token has been revoked',
    })
    expect(await two.authenticateSource(second)).toEqual(source)

    // When the other process revokes the source.
    expect(await two.revocations.revokeSource(source)).toBe(true)
    // Then the first refuses its tokens, a new session and a new token, as forbidden.
    for (const attempt of [
      () => one.authenticateSource(second),
      () => one.authenticateSource(first),
      () => one.apps.startSession(source),
      () => one.apps.issueApiToken(source),
    ])
      expect(await refusal(attempt())).toEqual(revokedSource)
    // And revoking it again through it changes nothing.
    expect(await one.revocations.revokeSource(source)).toBe(false)
    const revokedAt = one.revocations.revokedAt(source.sourceId)
    expect(revokedAt).toBe(two.revocations.revokedAt(source.sourceId))

    // And a process that starts afterwards knows both revocations.
    const fresh = await processes.fresh()
    expect(fresh.revocations.revokedAt(source.sourceId)).toBe(revokedAt)
    expect(await refusal(fresh.authenticateSource(second))).toEqual(revokedSource)
    const tokens = await fresh.revocations.listApiTokens(source)
    expect(tokens.map(({ tokenId, revokedAt }) => [tokenId, revokedAt === null])).toEqual([
      [firstId, false],
      [secondId, true],
    ])
  })
})
