import { createMemberTokens } from './accounts/memberTokens.ts'
import { createUserTokens, requireKnownSubject } from './accounts/userTokens.ts'
import type { ControlPlane } from './controlPlane.ts'
import { createStoreAccess } from './people/storeAccess.ts'
import type { StoreRegistry } from './people/storeRegistry.ts'

/**
 * The tokens the API issues and checks, all signed with one secret for different audiences:
 * accounts' (whose account must exist), members' and stores' (a store's also needs the store to
 * be active and not revoked).
 */
export function createApiTokens(options: {
  secret: Uint8Array
  ttlSeconds: number
  accounts: Pick<ControlPlane, 'findAccount' | 'revocations'>
  stores: Pick<StoreRegistry, 'store'>
}) {
  const config = {
    secret: options.secret,
    issuer: 'hourglass',
    audience: 'hourglass',
    ttlSeconds: options.ttlSeconds,
  }
  return {
    userTokens: requireKnownSubject(
      createUserTokens(config),
      async (accountId) => (await options.accounts.findAccount(accountId)) !== null,
    ),
    memberTokens: createMemberTokens(config),
    access: createStoreAccess({
      secret: options.secret,
      issuer: config.issuer,
      registry: options.stores,
      revocations: options.accounts.revocations,
    }),
  }
}
