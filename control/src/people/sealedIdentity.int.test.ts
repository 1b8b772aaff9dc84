import { AccountRegistered, controlStreams } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ControlPlane } from '../controlPlane.ts'
import { type EmbeddedControl, openEmbeddedControl } from '../testing/embeddedControl.ts'
import { emailLookup, openIdentity } from './sealedIdentity.ts'

let control: EmbeddedControl
let controlPlane: ControlPlane

beforeAll(async () => {
  control = openEmbeddedControl('identity')
  controlPlane = await control.plane()
})
afterAll(() => control.close())

describe("an account holder's personal data in the control log", () => {
  it('is sealed under their key, found by keyed hash, and unreadable once they are erased', async () => {
    const email = 'Ana.Lima@Example.org'
    const account = await controlPlane.registerAccount({ email, name: 'Ana Lima', password: 'correct horse' })
    const stream = controlStreams.accountByEmail(await emailLookup(control.keys, 'accounts', email))
    const [record] = await control.log.control.readStream(stream)
    const registered = AccountRegistered.parse({ ...(record!.data as object), type: record!.type })
    expect(JSON.stringify(record!.data)).not.toMatch(/ana\.lima|ana lima/i)
    expect(registered.email).toBeUndefined()
    expect(await openIdentity(control.keys, 'account', account.accountId, registered.sealed!)).toEqual({
      email: 'ana.lima@example.org',
      name: 'Ana Lima',
    })
    // Sealed to its owner: another person's id does not open it.
    await expect(
      openIdentity(control.keys, 'member', account.accountId, registered.sealed!),
    ).rejects.toThrow()
    expect((await controlPlane.checkPassword(' ana.lima@example.ORG ', 'correct horse'))?.accountId).toBe(
      account.accountId,
    )

    await controlPlane.eraseAccount(account.accountId)
    expect(await openIdentity(control.keys, 'account', account.accountId, registered.sealed!)).toBeNull()
    expect(await controlPlane.findAccount(account.accountId)).toBeNull()
    expect(await controlPlane.checkPassword(email, 'correct horse')).toBeNull()
  })
})
