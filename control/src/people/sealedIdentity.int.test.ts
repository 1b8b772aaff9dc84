import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog } from '@hourglass/log'
import { AccountRegistered, controlStreams } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPasswordHasher, type PasswordHasher } from '../accounts/passwords.ts'
import { type ControlPlane, createControlPlane } from '../controlPlane.ts'
import { createPersonKeyStore, type PersonKeyStore } from './personalData.ts'
import { emailLookup, openIdentity } from './sealedIdentity.ts'

let dir: string
let log: EmbeddedLog
let passwords: PasswordHasher
let keys: PersonKeyStore
let controlPlane: ControlPlane

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hourglass-identity-'))
  log = createEmbeddedLog({ path: join(dir, 'log') })
  passwords = createPasswordHasher({ threads: 1, queue: 16 })
  keys = createPersonKeyStore({
    path: join(dir, 'keys'),
    masterKey: randomBytes(32),
    indexKey: randomBytes(32),
  })
  controlPlane = createControlPlane(log.control, { passwords, keys, quotas: { sessions: 10, tokens: 10 } })
  await controlPlane.start()
})
afterAll(async () => {
  await passwords.close()
  await keys.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("an account holder's personal data in the control log", () => {
  it('is sealed under their key, found by keyed hash, and unreadable once they are erased', async () => {
    const email = 'Ana.Lima@Example.org'
    const account = await controlPlane.registerAccount({ email, name: 'Ana Lima', password: 'correct horse' })
    const stream = controlStreams.accountByEmail(await emailLookup(keys, 'accounts', email))
    const [record] = await log.control.readStream(stream)
    const registered = AccountRegistered.parse({ ...(record!.data as object), type: record!.type })
    expect(JSON.stringify(record!.data)).not.toMatch(/ana\.lima|ana lima/i)
    expect(registered.email).toBeUndefined()
    expect(await openIdentity(keys, 'account', account.accountId, registered.sealed!)).toEqual({
      email: 'ana.lima@example.org',
      name: 'Ana Lima',
    })
    // Sealed to its owner: another person's id does not open it.
    await expect(openIdentity(keys, 'member', account.accountId, registered.sealed!)).rejects.toThrow()
    expect((await controlPlane.checkPassword(' ana.lima@example.ORG ', 'correct horse'))?.accountId).toBe(
      account.accountId,
    )

    await controlPlane.eraseAccount(account.accountId)
    expect(await openIdentity(keys, 'account', account.accountId, registered.sealed!)).toBeNull()
    expect(await controlPlane.findAccount(account.accountId)).toBeNull()
    expect(await controlPlane.checkPassword(email, 'correct horse')).toBeNull()
  })
})
