import { z } from 'zod'
import { SourceKind } from './telemetry.ts'

/**
 * Control-plane events: accounts and sources. Each aggregate is one stream of the log,
 * appended with an expected revision so that concurrent commands cannot both win.
 */
export const AccountRegistered = z.object({
  type: z.literal('account.registered'),
  accountId: z.string(),
  email: z.string(),
  name: z.string(),
  passwordHash: z.string(),
  at: z.number().int(),
})

export const SourceCreated = z.object({
  type: z.literal('source.created'),
  sourceId: z.string(),
  accountId: z.string(),
  kind: SourceKind,
  name: z.string(),
  /** SHA-256 of the API token's secret part; the token itself is shown once and never stored. */
  tokenHash: z.string(),
  at: z.number().int(),
})

export const ControlEvent = z.discriminatedUnion('type', [AccountRegistered, SourceCreated])
export type ControlEvent = z.infer<typeof ControlEvent>
export type AccountRegistered = z.infer<typeof AccountRegistered>
export type SourceCreated = z.infer<typeof SourceCreated>

export const controlStreams = {
  /** One stream per e-mail address (hashed), so that signing up twice with one address conflicts. */
  accountByEmail: (emailHash: string) => `account-email-${emailHash}`,
  source: (sourceId: string) => `source-config-${sourceId}`,
}
