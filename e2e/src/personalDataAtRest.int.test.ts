import { randomUUID } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createPasswordHasher } from '@hourglass/control'
import { controlStreams } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compatPerson,
  createStore,
  filesUnder,
  METRICA,
  RECEIPTS,
  STORE_STATS,
  warehouseText,
} from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/** Every line the server logged, requests included. */
const logged: string[] = []
let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass(
    { LOG_LEVEL: 'info', HOURGLASS_LOG_REQUESTS: 'true' },
    { logTo: { write: (line: string) => logged.push(line) } },
  )
})
afterAll(() => hg?.close())

/** A value long and odd enough that finding it anywhere means it was kept. */
const marked = (what: string) => `${what}${randomUUID().slice(0, 8)}Qz`

const expectStatus = async (sent: Promise<{ statusCode: number; body: string }>, status: number) => {
  const response = await sent
  expect(response.statusCode, response.body).toBe(status)
  return JSON.parse(response.body || 'null')
}

/** Every folder and file under `dir`, with its permission bits. */
const modesUnder = (dir: string): { path: string; folder: boolean; mode: number }[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    const stat = statSync(path)
    const entry = { path, folder: stat.isDirectory(), mode: stat.mode & 0o777 }
    return entry.folder ? [entry, ...modesUnder(path)] : [entry]
  })

/** Each personal value the run sends, by what it is. */
const personal: Record<string, string> = {}
/** The credentials of those the run made, to erase them after. */
const made = {} as {
  holderToken: string
  memberToken: string
  fleet: { id: string; apiToken: string }
  deviceUserId: string
}

describe('personal data at rest', () => {
  beforeAll(async () => {
    // An account holder, natively.
    personal.holderEmail = `${marked('holder')}@example.org`.toLowerCase()
    personal.holderName = marked('Holdername')
    const holder = await expectStatus(
      hg.request('POST', '/v1/auth/signup', {
        body: { email: personal.holderEmail, password: 'correct horse battery', name: personal.holderName },
      }),
      201,
    )
    await expectStatus(
      hg.request('POST', '/v1/auth/signin', {
        body: { email: personal.holderEmail, password: 'correct horse battery' },
      }),
      200,
    )

    // A Metrica user (seed 000), with a surname and a phone.
    personal.metricaEmail = `${marked('metrica')}@example.org`.toLowerCase()
    personal.metricaName = marked('Metricaname')
    personal.metricaSurname = marked('Metricasurname')
    await expectStatus(
      hg.request('POST', `${METRICA}/auth/signup`, {
        body: {
          name: personal.metricaName,
          surname: personal.metricaSurname,
          email: personal.metricaEmail,
          password: 'secret-1',
          phone: '+351 912 345 678',
        },
      }),
      200,
    )

    // Members: natively and through seed 003's registration, one granted a role by name.
    personal.memberName = marked('membername')
    made.memberToken = (
      await expectStatus(
        hg.request('POST', '/v1/auth/members', {
          body: { username: personal.memberName, password: 'secret-2' },
        }),
        201,
      )
    ).token
    personal.analystName = marked('analystname')
    await expectStatus(
      hg.request('POST', `${RECEIPTS}/auth/registration/`, {
        body: { username: personal.analystName, password1: 'secret', password2: 'secret' },
      }),
      201,
    )
    const granted = await expectStatus(
      hg.request('PUT', `/v1/account/analysts/${personal.analystName}`, { token: holder.token }),
      200,
    )
    expect(granted.username).toBe(personal.analystName)
    const analysts = await expectStatus(
      hg.request('GET', '/v1/account/analysts', { token: holder.token }),
      200,
    )
    expect(analysts.analysts.map((a: { username: string }) => a.username)).toEqual([personal.analystName])

    // Device users: natively, and through seed 004's query string.
    const fleet = await hg.createSource(holder.token, 'device')
    personal.deviceUserName = marked('deviceuser')
    made.deviceUserId = (
      await expectStatus(
        hg.request('POST', `/v1/sources/${fleet.id}/device-users`, {
          token: holder.token,
          body: { name: personal.deviceUserName, password: 'device correct horse' },
        }),
        201,
      )
    ).id
    made.holderToken = holder.token
    made.fleet = fleet
    personal.compatDeviceUserName = marked('compatdeviceuser')
    personal.compatDeviceUserEmail = `${marked('deviceuser')}@example.org`.toLowerCase()
    const query = new URLSearchParams({
      username: personal.compatDeviceUserName,
      email: personal.compatDeviceUserEmail,
      password: 'device correct horse',
    })
    await expectStatus(hg.request('POST', `/compat/devices/users?${query}`, { token: fleet.apiToken }), 201)

    // People of a store (seed 001): registered, then found by e-mail in the path and in the query.
    const store = await createStore(hg.api, holder.token, 'Shop')
    const person = compatPerson(marked('person'))
    Object.assign(personal, {
      personEmail: person.email.toLowerCase(),
      personUsername: person.username,
      personFirstName: person.first_name,
      personLastName: person.last_name,
    })
    await expectStatus(
      hg.request('POST', `${STORE_STATS}/api/user`, { token: store.token, body: person }),
      201,
    )
    await expectStatus(
      hg.request('GET', `${STORE_STATS}/api/user/${encodeURIComponent(person.email)}`, {
        token: store.token,
      }),
      200,
    )
    await expectStatus(
      hg.request('GET', `/v1/people?${new URLSearchParams({ email: person.email })}`, { token: store.token }),
      200,
    )
    await hg.settled()
  })

  it('keeps no personal value in any file of the data folder, in the warehouse or in the logs', async () => {
    const files = filesUnder(hg.config.dataDir)
    const tables = Object.values(await warehouseText(hg.runtime.warehouse)).join('\n')
    const logs = logged.join('')
    expect(logs).toContain('incoming request')
    const found = Object.entries(personal).flatMap(([what, value]) => [
      ...(files.some((file) => file.includes(value)) ? [`${what} in the data folder`] : []),
      ...(tables.includes(value) ? [`${what} in the warehouse`] : []),
      ...(logs.includes(value) || logs.includes(encodeURIComponent(value)) ? [`${what} in the logs`] : []),
    ])
    expect(found).toEqual([])
  })

  it('keeps the data folder to its owner: folders 0700, files 0600', () => {
    const entries = modesUnder(hg.config.dataDir)
    expect(entries.filter((e) => e.folder).length).toBeGreaterThan(2)
    expect(entries.filter((e) => !e.folder).length).toBeGreaterThan(5)
    const open = entries.filter((e) => e.mode !== (e.folder ? 0o700 : 0o600))
    expect(open.map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([])
    expect(statSync(hg.config.dataDir).mode & 0o777).toBe(0o700)
  })
})

describe('erasing those who sign in', () => {
  it('refuses their credentials and frees their names, also after a restart', async () => {
    const { holderToken, memberToken, fleet, deviceUserId } = made
    const deviceUserCredentials = `Basic ${Buffer.from(`${deviceUserId}:device correct horse`).toString('base64')}`
    const deviceSummary = () =>
      hg.request('GET', `/compat/devices/users/${deviceUserId}/stats/summary`, {
        headers: { authorization: deviceUserCredentials },
      })
    const beforeErasure = (await deviceSummary()).statusCode
    await expectStatus(
      hg.request('DELETE', `/v1/sources/${fleet.id}/device-users/${deviceUserId}`, { token: holderToken }),
      204,
    )
    await expectStatus(hg.request('DELETE', '/v1/auth/members/me', { token: memberToken }), 204)
    await expectStatus(hg.request('DELETE', '/v1/account', { token: holderToken }), 204)

    for (const round of ['now', 'after a restart']) {
      if (round !== 'now') await hg.restart()
      expect((await deviceSummary()).statusCode, round).toBe(401)
      expect(beforeErasure).not.toBe(401)
      await expectStatus(hg.request('GET', '/v1/sources', { token: holderToken }), 401)
      await expectStatus(
        hg.request('POST', '/v1/events', { token: fleet.apiToken, body: { events: [] } }),
        401,
      )
      await expectStatus(
        hg.request('POST', '/v1/auth/signin', {
          body: { email: personal.holderEmail, password: 'correct horse battery' },
        }),
        401,
      )
      await expectStatus(
        hg.request('POST', '/v1/auth/members/signin', {
          body: { username: personal.memberName, password: 'secret-2' },
        }),
        401,
      )
    }
    // Their names are free again.
    const again = await expectStatus(
      hg.request('POST', '/v1/auth/signup', {
        body: { email: personal.holderEmail, password: 'a new password', name: 'Again' },
      }),
      201,
    )
    await expectStatus(
      hg.request('POST', '/v1/auth/members', {
        body: { username: personal.memberName, password: 'secret-3' },
      }),
      201,
    )
    const newFleet = await hg.createSource(again.token, 'device')
    await expectStatus(
      hg.request('POST', `/v1/sources/${newFleet.id}/device-users`, {
        token: again.token,
        body: { name: personal.deviceUserName, password: 'device correct horse' },
      }),
      201,
    )
  })
})

describe('records written before personal data was sealed', () => {
  it('still sign in their accounts and members, and still hold their names', async () => {
    const passwords = createPasswordHasher({ threads: 1, queue: 4 })
    const passwordHash = await passwords.hash('written before')
    await passwords.close()
    const email = `earlier-${randomUUID()}@example.org`
    const username = `earlier_${randomUUID().slice(0, 8)}`
    const control = hg.runtime.control
    const accountId = randomUUID()
    await control.appendToStream(
      controlStreams.accountByEmail(randomUUID()),
      [
        {
          type: 'account.registered',
          data: { accountId, email, name: 'Earlier', passwordHash, at: Date.now() },
        },
      ],
      'no-stream',
    )
    await control.appendToStream(
      controlStreams.memberByUsername(randomUUID()),
      [{ type: 'member.registered', data: { userId: randomUUID(), username, passwordHash, at: Date.now() } }],
      'no-stream',
    )

    const signedIn = await expectStatus(
      hg.request('POST', '/v1/auth/signin', { body: { email, password: 'written before' } }),
      200,
    )
    await expectStatus(
      hg.request('POST', '/v1/auth/signup', { body: { email, password: 'another password', name: 'Again' } }),
      409,
    )
    await expectStatus(
      hg.request('POST', '/v1/auth/members/signin', { body: { username, password: 'written before' } }),
      200,
    )
    await expectStatus(
      hg.request('POST', '/v1/auth/members', { body: { username, password: 'another password' } }),
      409,
    )
    const granted = await expectStatus(
      hg.request('PUT', `/v1/account/analysts/${username}`, { token: signedIn.token }),
      200,
    )
    expect(granted).toMatchObject({ username, analyst: true })
    const analysts = await expectStatus(
      hg.request('GET', '/v1/account/analysts', { token: signedIn.token }),
      200,
    )
    expect(analysts.analysts.map((a: { username: string }) => a.username)).toEqual([username])
  })
})
