import { createHash, randomUUID } from 'node:crypto'
import type { ControlRecord, ExpectedRevision } from '@hourglass/log'
import {
  type ControlEvent,
  controlStreams,
  type DeviceBound,
  type DeviceUserRegistered,
  errors,
  HourglassError,
} from '@hourglass/schemas'
import type { PasswordHasher } from '../accounts/passwords.ts'
import type { PersonKeyStore } from '../people/personalData.ts'
import { nameLookup, sealIdentity } from '../people/sealedIdentity.ts'

/**
 * A user of a device fleet: owns devices, and may read their own summaries with their password.
 * Their name is sealed in the log and not kept here; it is known only when they are registered.
 */
export interface DeviceUser {
  readonly userId: string
  readonly accountId: string
  readonly sourceId: string
  readonly passwordHash: string
  readonly createdAt: number
}

export interface DeviceBinding {
  /** The owner from `effectiveFrom` on; null: nobody. */
  readonly userId: string | null
  readonly effectiveFrom: number
  /** When the binding was recorded. */
  readonly at: number
}

/** A registered device of a fleet: its binding history, oldest first, effective times never decreasing. */
export interface Device {
  readonly accountId: string
  readonly sourceId: string
  readonly deviceId: string
  /** Revision of the device's control stream: the next binding expects it. */
  readonly revision: number
  readonly bindings: readonly DeviceBinding[]
}

/** The owner of a device at a moment: the latest binding effective at or before it. */
export function ownerAt(device: Device, timestamp: number): string | null {
  for (let i = device.bindings.length - 1; i >= 0; i--) {
    const binding = device.bindings[i]!
    if (binding.effectiveFrom <= timestamp) return binding.userId
  }
  return null
}

export const currentOwner = (device: Device) => device.bindings.at(-1)?.userId ?? null

/** The fleet a command acts on: a source of kind `device`. */
export interface Fleet {
  readonly accountId: string
  readonly sourceId: string
}

/** Device users and device bindings: the control-plane state of device fleets. */
export interface DeviceFleets {
  /** A new user of the fleet; a name the fleet already has is a 409. */
  registerUser(
    fleet: Fleet,
    input: { name: string; password: string },
  ): Promise<DeviceUser & { name: string }>
  findUser(sourceId: string, userId: string): Promise<DeviceUser | null>
  /** Erases a user of the fleet (404 for none): their key is destroyed and they no longer sign in. */
  eraseUser(fleet: Fleet, userId: string): Promise<void>
  /** The device user whose id and password these are, or null. */
  checkUserPassword(userId: string, password: string): Promise<DeviceUser | null>
  /**
   * Binds a device to a user of its fleet (or to nobody) from `effectiveFrom` on, registering
   * it on its first binding. Binding to the current owner changes nothing; an effective time
   * before the current binding's, or a concurrent re-bind, is a 409.
   */
  bindDevice(
    fleet: Fleet,
    deviceId: string,
    input: { userId: string | null; effectiveFrom: number },
  ): Promise<Device>
  findDevice(sourceId: string, deviceId: string): Promise<Device | null>
  /**
   * The device a reading taken at `timestamp` is for, registered by the reading when the fleet
   * does not know it yet (a device joins its fleet by sending). With `userId`, the reading must
   * be that user's: a new device is bound to them from the start, a device nobody owns at that
   * time is bound to them from the reading on, and a device someone else owns then is a 409.
   * Concurrent first readings race on the device's stream with an expected revision: one
   * binding wins, the others read it and are judged against it.
   */
  deviceForReading(
    fleet: Fleet,
    deviceId: string,
    reading: { userId?: string | undefined; timestamp: number },
  ): Promise<Device>
  /**
   * Devices as of the log's latest record (bindings that another process made count), for
   * stamping readings with their owners; unknown ids are absent from the map.
   */
  currentDevices(sourceId: string, deviceIds: Iterable<string>): Promise<Map<string, Device>>
}

/** What the device fleets need of the control plane that folds them. */
export interface DeviceFleetControl {
  refresh(): Promise<void>
  /** `refresh` for readings: the followed bindings stand while the control store is away. */
  catchUpOrKeep(): Promise<void>
  lookup<T>(find: () => T | undefined): Promise<T | null>
  append(stream: string, event: ControlEvent, expected?: ExpectedRevision): Promise<'appended' | 'conflict'>
  readonly passwords: PasswordHasher
  readonly keys: PersonKeyStore
  /** The revision a registration expects of a name's stream (a name of an erased user is free again). */
  revisionToRegister(stream: string): Promise<ExpectedRevision>
  eraseIdentity(kind: 'device-user', id: string): Promise<void>
}

/** Attempts at binding a device on a reading before a conflicting writer is reported as a 409. */
const READING_BIND_ATTEMPTS = 5

const outOfOrder = (last: DeviceBinding, what: string, path: string) =>
  new HourglassError(
    'BINDING_OUT_OF_ORDER',
    `the device's current binding is effective from ${new Date(last.effectiveFrom).toISOString()}; ` +
      `${what} cannot take effect before it`,
    { issues: [{ path, message: 'is before the current binding' }] },
  )

/**
 * The binding a reading of `userId` at `timestamp` needs, or null when the device is theirs
 * then already (or the reading names nobody and the device exists).
 */
function bindingForReading(
  device: Device | undefined,
  userId: string | undefined,
  timestamp: number,
): { userId: string | null; effectiveFrom: number } | null {
  // A device that joins with its first reading belongs to its user (or nobody) from the start.
  if (!device) return { userId: userId ?? null, effectiveFrom: 0 }
  if (userId === undefined) return null
  const owner = ownerAt(device, timestamp)
  if (owner === userId) return null
  if (owner !== null) {
    throw new HourglassError(
      'DEVICE_OWNED_BY_ANOTHER_USER',
      `device "${device.deviceId}" belongs to another user at the reading's time; the reading was not recorded ` +
        '(the account re-binds a device with PUT /v1/sources/<fleet>/devices/<device>/owner)',
      { issues: [{ path: 'user_id', message: 'is not the owner of the device at the time of the reading' }] },
    )
  }
  const last = device.bindings.at(-1)
  if (last && timestamp < last.effectiveFrom)
    throw outOfOrder(last, 'a binding from this reading', 'timestamp')
  return { userId, effectiveFrom: timestamp }
}

/** The stream key of a name written in clear, before names were sealed. */
const nameKey = (sourceId: string, name: string) =>
  createHash('sha256')
    .update(`${sourceId}\n${name.normalize('NFKC')}`)
    .digest('hex')
const deviceKey = (sourceId: string, deviceId: string) => `${sourceId}/${deviceId}`

/** Device fleets' state, folded from control records by the control plane (`apply`). */
export function createDeviceFleets(control: DeviceFleetControl): DeviceFleets & {
  apply(event: DeviceUserRegistered | DeviceBound, record: ControlRecord): void
  /** An erased user is no longer found, and their name is free again in the fleet. */
  forgetUser(userId: string): void
} {
  const users = new Map<string, DeviceUser>()
  /** The names taken in each fleet: keyed hashes, or `nameKey` for names written in clear. */
  const takenNames = new Set<string>()
  /** The name each user took, to free it when they are erased. */
  const nameOfUser = new Map<string, string>()
  const devices = new Map<string, Device>()

  const nameTaken = async (sourceId: string, name: string, index: string) => {
    const taken = () => takenNames.has(index) || takenNames.has(nameKey(sourceId, name))
    if (taken()) return true
    await control.refresh()
    return taken()
  }

  const findUser = async (sourceId: string, userId: string) => {
    const user = await control.lookup(() => users.get(userId))
    return user?.sourceId === sourceId ? user : null
  }

  /** A binding appended after the device's latest one (or as its first): 'conflict' when another came first. */
  const appendBinding = (
    fleet: Fleet,
    deviceId: string,
    device: Device | undefined,
    binding: { userId: string | null; effectiveFrom: number },
  ) => {
    const event: DeviceBound = {
      type: 'device.bound',
      accountId: fleet.accountId,
      sourceId: fleet.sourceId,
      deviceId,
      ...binding,
      at: Date.now(),
    }
    return control.append(
      controlStreams.device(fleet.sourceId, deviceId),
      event,
      device ? device.revision : 'no-stream',
    )
  }

  return {
    apply(event, record) {
      if (event.type === 'device-user.registered') {
        users.set(event.userId, {
          userId: event.userId,
          accountId: event.accountId,
          sourceId: event.sourceId,
          passwordHash: event.passwordHash,
          createdAt: event.at,
        })
        const taken =
          event.nameIndex ?? (event.name === undefined ? undefined : nameKey(event.sourceId, event.name))
        if (taken !== undefined) {
          takenNames.add(taken)
          nameOfUser.set(event.userId, taken)
        }
        return
      }
      const key = deviceKey(event.sourceId, event.deviceId)
      const device = devices.get(key)
      devices.set(key, {
        accountId: event.accountId,
        sourceId: event.sourceId,
        deviceId: event.deviceId,
        revision: record.revision,
        bindings: [
          ...(device?.bindings ?? []),
          { userId: event.userId, effectiveFrom: event.effectiveFrom, at: event.at },
        ],
      })
    },

    async registerUser(fleet, { name, password }) {
      const taken = () => errors.conflict(`the fleet already has a user named "${name}"`)
      const nameIndex = await nameLookup(control.keys, fleet.sourceId, name.normalize('NFKC'))
      if (await nameTaken(fleet.sourceId, name, nameIndex)) throw taken()
      const userId = randomUUID()
      const event: DeviceUserRegistered = {
        type: 'device-user.registered',
        userId,
        accountId: fleet.accountId,
        sourceId: fleet.sourceId,
        nameIndex,
        sealed: await sealIdentity(control.keys, 'device-user', userId, { name }),
        passwordHash: await control.passwords.hash(password),
        at: Date.now(),
      }
      const stream = controlStreams.deviceUserByName(fleet.sourceId, nameIndex)
      const status = await control.append(stream, event, await control.revisionToRegister(stream))
      if (status === 'conflict') {
        await control.keys.destroy(userId)
        throw taken()
      }
      return { ...users.get(userId)!, name }
    },

    findUser,

    forgetUser(userId) {
      users.delete(userId)
      const taken = nameOfUser.get(userId)
      if (taken !== undefined) takenNames.delete(taken)
      nameOfUser.delete(userId)
    },

    async eraseUser(fleet, userId) {
      if (!(await findUser(fleet.sourceId, userId)))
        throw errors.notFound(`device user "${userId}" of this fleet`)
      await control.eraseIdentity('device-user', userId)
    },

    async checkUserPassword(userId, password) {
      const user = await control.lookup(() => users.get(userId))
      const matches = await control.passwords.verify(password, user?.passwordHash ?? null)
      return user && matches ? user : null
    },

    async bindDevice(fleet, deviceId, { userId, effectiveFrom }) {
      if (userId !== null && !(await findUser(fleet.sourceId, userId)))
        throw errors.notFound(`device user "${userId}" of this fleet`)
      // The expected revision must be the latest, wherever it was written.
      await control.refresh()
      const key = deviceKey(fleet.sourceId, deviceId)
      const device = devices.get(key)
      const last = device?.bindings.at(-1)
      if (device && last && last.userId === userId) return device
      if (last && effectiveFrom < last.effectiveFrom) throw outOfOrder(last, 'a new binding', 'effectiveFrom')
      const status = await appendBinding(fleet, deviceId, device, { userId, effectiveFrom })
      if (status === 'conflict') {
        throw errors.conflict('the device was bound by another request at the same time; read it and retry')
      }
      return devices.get(key)!
    },

    findDevice: (sourceId, deviceId) => control.lookup(() => devices.get(deviceKey(sourceId, deviceId))),

    async deviceForReading(fleet, deviceId, { userId, timestamp }) {
      if (userId !== undefined && !(await findUser(fleet.sourceId, userId)))
        throw errors.notFound(`device user "${userId}" of this fleet`)
      const key = deviceKey(fleet.sourceId, deviceId)
      for (let attempt = 0; attempt < READING_BIND_ATTEMPTS; attempt++) {
        // The reading is stamped with the latest binding, wherever it was written.
        await control.catchUpOrKeep()
        const device = devices.get(key)
        const binding = bindingForReading(device, userId, timestamp)
        if (!binding) return device!
        if ((await appendBinding(fleet, deviceId, device, binding)) === 'appended') return devices.get(key)!
      }
      throw errors.conflict('the device is being bound by other requests at the same time; retry')
    },

    async currentDevices(sourceId, deviceIds) {
      await control.catchUpOrKeep()
      const found = new Map<string, Device>()
      for (const deviceId of deviceIds) {
        const device = devices.get(deviceKey(sourceId, deviceId))
        if (device) found.set(deviceId, device)
      }
      return found
    },
  }
}
