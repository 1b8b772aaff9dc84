import { randomUUID } from 'node:crypto'
import { errors } from '@hourglass/schemas'
import type { FastifyRequest } from 'fastify'
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { credentialFrom } from '../accounts/apiTokens.ts'
import { verifiedTokens } from '../accounts/verifiedTokens.ts'
import type { SourceRevocations } from '../apps/sourceRevocations.ts'
import type { Store, StoreRegistry } from './storeRegistry.ts'

const ALGORITHM = 'HS256'
const EXPIRED = 'the store access token has expired'
/** Store access tokens are short-lived: a store re-authenticates with its API key. */
export const STORE_TOKEN_TTL_SECONDS = 15 * 60

export interface StoreAccess {
  issue(store: Store): Promise<string>
  /** The active store a request's bearer token speaks for (a 403 once the store is inactive or revoked). */
  authenticate(request: FastifyRequest): Promise<Store>
}

export function createStoreAccess(options: {
  secret: Uint8Array
  issuer: string
  registry: Pick<StoreRegistry, 'store'>
  /** A store is a source: once revoked, its access tokens are refused as its API keys are. */
  revocations: Pick<SourceRevocations, 'refuseIfRevoked'>
}): StoreAccess {
  const audience = 'hourglass-store'
  /** The stores of access tokens already verified. */
  const verified = verifiedTokens<{ readonly storeId: string }>()
  return {
    issue: (store) =>
      new SignJWT({})
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(store.storeId)
        .setJti(randomUUID())
        .setIssuer(options.issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(`${STORE_TOKEN_TTL_SECONDS}s`)
        .sign(options.secret),
    async authenticate(request) {
      const token = credentialFrom(request.headers.authorization)
      if (!token)
        throw errors.unauthenticated('send the store access token as "Authorization: Bearer <token>"')
      let known = verified.get(token)
      if (known === 'expired') throw errors.unauthenticated(EXPIRED)
      if (known === undefined) {
        try {
          const { payload } = await jwtVerify(token, options.secret, {
            algorithms: [ALGORITHM],
            issuer: options.issuer,
            audience,
            requiredClaims: ['exp', 'iss', 'aud', 'sub'],
          })
          known = { storeId: payload.sub! }
          verified.set(token, known, payload.exp!)
        } catch (error) {
          if (error instanceof joseErrors.JWTExpired) throw errors.unauthenticated(EXPIRED)
          if (error instanceof joseErrors.JOSEError)
            throw errors.unauthenticated('the store access token is not valid')
          throw error
        }
      }
      const store = await options.registry.store(known.storeId)
      if (!store) throw errors.unauthenticated('the store access token is not valid')
      if (!store.isActive) throw errors.forbidden('this store is inactive')
      await options.revocations.refuseIfRevoked(store.storeId)
      return store
    },
  }
}
