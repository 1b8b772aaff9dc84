import { createHash, randomUUID } from 'node:crypto'
import type { EventLog, LogRecord } from '@hourglass/log'
import {
  type AccountRegistered,
  ControlEvent,
  controlStreams,
  errors,
  type SourceCreated,
  type SourceKind,
} from '@hourglass/schemas'
import { mintApiToken, parseApiToken, secretMatches } from './apiTokens.ts'
import { decoyPasswordHash, hashPassword, verifyPassword } from './passwords.ts'

export interface Account {
  readonly accountId: string
  readonly email: string
  readonly name: string
  readonly passwordHash: string
  readonly createdAt: number
}

export interface Source {
  readonly sourceId: string
  readonly accountId: string
  readonly kind: SourceKind
  readonly name: string
  readonly tokenHash: string
  readonly createdAt: number
}

/** Read side of the control plane that other services (the query API) depend on. */
export interface SourceDirectory {
  /** The source, if it belongs to this account. */
  findOwned(accountId: string, sourceId: string): Promise<Source | null>
  listOwned(accountId: string): Promise<Source[]>
}

export interface ControlPlane extends SourceDirectory {
  start(): Promise<void>
  registerAccount(input: { email: string; name: string; password: string }): Promise<Account>
  /** The account whose e-mail and password these are, or null. */
  checkPassword(email: string, password: string): Promise<Account | null>
  findAccount(accountId: string): Promise<Account | null>
  createSource(
    accountId: string,
    input: { kind: SourceKind; name: string },
  ): Promise<{ source: Source; apiToken: string }>
  /** The source an API token belongs to, or null for an unknown or wrong token. */
  authenticateSource(apiToken: string): Promise<Source | null>
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase()
const emailKey = (email: string) => createHash('sha256').update(normaliseEmail(email)).digest('hex')

/**
 * Accounts and sources: commands append to control-plane streams with an expected revision
 * (so two sign-ups with one e-mail cannot both succeed); the current state is a fold of
 * those records, kept in memory and brought up to date from the log when asked for
 * something it does not know yet (another process may have written it).
 */
export function createControlPlane(log: EventLog): ControlPlane {
  const accounts = new Map<string, Account>()
  const accountsByEmail = new Map<string, Account>()
  const sources = new Map<string, Source>()
  let next = 0
  let refreshing: Promise<void> | null = null

  const apply = (record: LogRecord) => {
    const parsed = ControlEvent.safeParse({ ...(record.data as object), type: record.type })
    if (!parsed.success) return
    const event = parsed.data
    switch (event.type) {
      case 'account.registered': {
        const account = toAccount(event)
        accounts.set(account.accountId, account)
        accountsByEmail.set(account.email, account)
        break
      }
      case 'source.created':
        sources.set(event.sourceId, toSource(event))
        break
    }
  }

  const refresh = () => {
    refreshing ??= (async () => {
      try {
        for (;;) {
          const batch = await log.readControl(next, 1000)
          if (batch.length === 0) return
          for (const record of batch) apply(record)
          next = batch[batch.length - 1]!.position + 1
        }
      } finally {
        refreshing = null
      }
    })()
    return refreshing
  }

  /** A lookup that, on a miss, reads what other processes may have appended, then looks again. */
  const lookup = async <T>(find: () => T | undefined): Promise<T | null> => {
    const found = find()
    if (found !== undefined) return found
    await refresh()
    return find() ?? null
  }

  const appendControl = async (stream: string, event: ControlEvent) => {
    const { type, ...data } = event
    const outcome = await log.appendToStream(stream, [{ type, data }], 'no-stream')
    if (outcome.status === 'appended') await refresh()
    return outcome.status
  }

  return {
    start: refresh,
    async registerAccount({ email, name, password }) {
      const event: AccountRegistered = {
        type: 'account.registered',
        accountId: randomUUID(),
        email: normaliseEmail(email),
        name,
        passwordHash: await hashPassword(password),
        at: Date.now(),
      }
      const status = await appendControl(controlStreams.accountByEmail(emailKey(email)), event)
      if (status === 'conflict') throw errors.conflict('an account with this e-mail address already exists')
      return toAccount(event)
    },
    async checkPassword(email, password) {
      const account = await lookup(() => accountsByEmail.get(normaliseEmail(email)))
      const matches = await verifyPassword(password, account?.passwordHash ?? (await decoyPasswordHash))
      return account && matches ? account : null
    },
    findAccount: (accountId) => lookup(() => accounts.get(accountId)),
    async createSource(accountId, { kind, name }) {
      const sourceId = randomUUID()
      const { token, tokenHash } = mintApiToken(sourceId)
      const event: SourceCreated = {
        type: 'source.created',
        sourceId,
        accountId,
        kind,
        name,
        tokenHash,
        at: Date.now(),
      }
      await appendControl(controlStreams.source(sourceId), event)
      return { source: toSource(event), apiToken: token }
    },
    async authenticateSource(apiToken) {
      const parsed = parseApiToken(apiToken)
      if (!parsed) return null
      const source = await lookup(() => sources.get(parsed.sourceId))
      return source && secretMatches(parsed.secret, source.tokenHash) ? source : null
    },
    async findOwned(accountId, sourceId) {
      const source = await lookup(() => sources.get(sourceId))
      return source?.accountId === accountId ? source : null
    },
    async listOwned(accountId) {
      await refresh()
      return [...sources.values()]
        .filter((s) => s.accountId === accountId)
        .sort((a, b) => a.createdAt - b.createdAt)
    },
  }
}

const toAccount = (event: AccountRegistered): Account => ({
  accountId: event.accountId,
  email: event.email,
  name: event.name,
  passwordHash: event.passwordHash,
  createdAt: event.at,
})

const toSource = (event: SourceCreated): Source => ({
  sourceId: event.sourceId,
  accountId: event.accountId,
  kind: event.kind,
  name: event.name,
  tokenHash: event.tokenHash,
  createdAt: event.at,
})
