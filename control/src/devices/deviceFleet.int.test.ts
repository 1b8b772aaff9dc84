import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ControlPlane } from '../controlPlane.ts'
import { type EmbeddedControl, openEmbeddedControl } from '../testing/embeddedControl.ts'
import { type Device, ownerAt } from './deviceFleet.ts'

const HOUR = 3600_000
const t0 = Date.UTC(2026, 5, 1)

let control: EmbeddedControl
/** Two control planes over one control store: two ingest processes, each with its own folded state. */
let one: ControlPlane
let two: ControlPlane
let fleet: { accountId: string; sourceId: string }
let ana: string
let ben: string

beforeAll(async () => {
  control = openEmbeddedControl('fleet')
  ;[one, two] = await Promise.all([control.plane(), control.plane()])
  const { source } = await one.createSource('account-1', { kind: 'device', name: 'fleet' })
  fleet = source
  ana = (await one.devices.registerUser(fleet, { name: 'ana', password: 'correct horse' })).userId
  ben = (await one.devices.registerUser(fleet, { name: 'ben', password: 'correct horse' })).userId
})
afterAll(() => control.close())

describe('device fleets', () => {
  it('finds the owner at a moment: the latest binding in force then, nobody before the first', () => {
    const device: Device = {
      accountId: 'a',
      sourceId: 's',
      deviceId: 'd',
      revision: 2,
      bindings: [
        { userId: 'u1', effectiveFrom: t0, at: t0 },
        { userId: null, effectiveFrom: t0 + HOUR, at: t0 },
        { userId: 'u2', effectiveFrom: t0 + 2 * HOUR, at: t0 },
      ],
    }
    expect(ownerAt(device, t0 - 1)).toBeNull()
    expect(ownerAt(device, t0)).toBe('u1')
    expect(ownerAt(device, t0 + HOUR - 1)).toBe('u1')
    expect(ownerAt(device, t0 + HOUR)).toBeNull()
    expect(ownerAt(device, t0 + 5 * HOUR)).toBe('u2')
  })

  it('lets exactly one of two concurrent re-binds from two processes win', async () => {
    await one.devices.bindDevice(fleet, 'race', { userId: ana, effectiveFrom: t0 })
    await two.start()
    const outcomes = await Promise.allSettled([
      one.devices.bindDevice(fleet, 'race', { userId: ben, effectiveFrom: t0 + HOUR }),
      two.devices.bindDevice(fleet, 'race', { userId: null, effectiveFrom: t0 + HOUR }),
    ])
    const lost = outcomes.filter((o) => o.status === 'rejected')
    expect(lost).toHaveLength(1)
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'CONFLICT', statusCode: 409 })
    const device = (await two.devices.currentDevices(fleet.sourceId, ['race'])).get('race')!
    expect(device.bindings).toHaveLength(2)
    expect(device.revision).toBe(1)
  })

  it('sees a binding another process made: the owner at each moment is the one bound then', async () => {
    await one.devices.bindDevice(fleet, 'moved', { userId: ana, effectiveFrom: t0 })
    await two.devices.findDevice(fleet.sourceId, 'moved')
    await one.devices.bindDevice(fleet, 'moved', { userId: ben, effectiveFrom: t0 + 3 * HOUR })
    const devices = await two.devices.currentDevices(fleet.sourceId, ['moved', 'ghost'])
    expect([...devices.keys()]).toEqual(['moved'])
    const moved = devices.get('moved')!
    expect(moved.revision).toBe(1)
    expect(ownerAt(moved, t0 + 3 * HOUR - 1)).toBe(ana)
    expect(ownerAt(moved, t0 + 3 * HOUR)).toBe(ben)
  })

  it('refuses a binding before the current one, and one to a user of another fleet', async () => {
    await one.devices.bindDevice(fleet, 'ordered', { userId: ana, effectiveFrom: t0 + HOUR })
    await expect(
      one.devices.bindDevice(fleet, 'ordered', { userId: ben, effectiveFrom: t0 }),
    ).rejects.toMatchObject({ code: 'BINDING_OUT_OF_ORDER', statusCode: 409 })
    const { source: other } = await one.createSource('account-2', { kind: 'device', name: 'other' })
    await expect(
      one.devices.bindDevice(other, 'ordered', { userId: ana, effectiveFrom: t0 }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', statusCode: 404 })
    expect(await one.devices.findUser(other.sourceId, ana)).toBeNull()
  })

  it("checks a device user's own password, and takes each name once per fleet", async () => {
    expect((await two.devices.checkUserPassword(ana, 'correct horse'))?.userId).toBe(ana)
    expect(await two.devices.checkUserPassword(ana, 'wrong horse')).toBeNull()
    expect(await two.devices.checkUserPassword('nobody', 'correct horse')).toBeNull()
    await expect(
      two.devices.registerUser(fleet, { name: 'ana', password: 'correct horse' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
  })
})
