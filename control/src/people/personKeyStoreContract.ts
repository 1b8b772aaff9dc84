import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import {
  openPersonalFields,
  PersonKeyExistsError,
  type PersonKeyStore,
  sealPersonalFields,
} from './personalData.ts'

export interface PersonKeyStoreHarness {
  /** A store over fresh, empty storage. */
  create(): Promise<PersonKeyStore>
  /** A second handle on the same keys, as another process holds one (or the same store after a restart). */
  another(store: PersonKeyStore): Promise<PersonKeyStore>
}

const fields = {
  email: 'ana.lima@example.org',
  username: 'ana',
  firstName: 'Ana',
  lastName: 'Lima',
  phone: '+351 912 345 678',
}

/** The behaviour every PersonKeyStore adapter promises. Run it against each adapter. */
export function describePersonKeyStoreContract(adapter: string, harness: PersonKeyStoreHarness) {
  describe(`PersonKeyStore contract: ${adapter}`, () => {
    const open: PersonKeyStore[] = []
    const create = async () => {
      const store = await harness.create()
      open.push(store)
      return store
    }
    const another = async (store: PersonKeyStore) => {
      const second = await harness.another(store)
      open.push(second)
      return second
    }
    afterAll(async () => {
      for (const store of open.splice(0)) await store.close()
    })

    it('given a new person, when a key is made, then every handle opens what it sealed', async () => {
      const keys = await create()
      const personId = randomUUID()
      const sealed = sealPersonalFields(await keys.create(personId), personId, fields)
      const other = await another(keys)
      const key = await other.get(personId)
      expect(key).not.toBeNull()
      expect(openPersonalFields(key!, personId, sealed)).toEqual(fields)
    })

    it('given a key, when it is destroyed through one handle, then no handle has it, and what it sealed stays shut', async () => {
      const keys = await create()
      const other = await another(keys)
      const personId = randomUUID()
      const sealed = sealPersonalFields(await keys.create(personId), personId, fields)
      await other.destroy(personId)
      expect(await keys.get(personId)).toBeNull()
      expect(await other.get(personId)).toBeNull()
      // A new key for the same id opens nothing sealed under the old one.
      const fresh = await keys.create(personId)
      expect(() => openPersonalFields(fresh, personId, sealed)).toThrow()
    })

    it('never replaces a key, and destroys an unknown one without complaint', async () => {
      const keys = await create()
      const personId = randomUUID()
      const key = await keys.create(personId)
      await expect(keys.create(personId)).rejects.toBeInstanceOf(PersonKeyExistsError)
      expect(await keys.get(personId)).toEqual(key)
      await keys.destroy(randomUUID())
      expect(await keys.get(randomUUID())).toBeNull()
    })

    it('indexes e-mail addresses per store, whatever their case, and the same on every handle', async () => {
      const keys = await create()
      const other = await another(keys)
      const index = await keys.emailIndex('store-1', 'Ana.Lima@Example.org ')
      expect(index).toBe(await other.emailIndex('store-1', 'ana.lima@example.org'))
      expect(index).not.toBe(await keys.emailIndex('store-2', 'ana.lima@example.org'))
      expect(index).not.toContain('ana')
    })
  })
}
