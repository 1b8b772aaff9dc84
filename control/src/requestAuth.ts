import { createHash } from 'node:crypto'
import { errors, HourglassError } from '@hourglass/schemas'
import type { FastifyRequest } from 'fastify'
import { credentialFrom } from './accounts/apiTokens.ts'
import type { UserPrincipal, UserTokens } from './accounts/userTokens.ts'
import type { ControlPlane, Source } from './controlPlane.ts'
import type { DeviceUser } from './devices/deviceFleet.ts'
import { isEyeToken } from './theEye/theEyeTokens.ts'

/**
 * Who a request speaks for, by the credential it carries: an account, a source (its API token),
 * a device fleet or device user, a seed-compatible API's user. Ingest and query check requests
 * the same way, through these.
 */

/** The account a request's user token speaks for. */
export const authenticateUser = async (
  userTokens: UserTokens,
  request: FastifyRequest,
): Promise<UserPrincipal> => {
  const token = credentialFrom(request.headers.authorization)
  if (!token) throw errors.unauthenticated('send the token from sign-in as "Authorization: Bearer <token>"')
  return userTokens.verify(token)
}

export const authenticateSourceRequest = async (
  controlPlane: ControlPlane,
  request: FastifyRequest,
): Promise<Source> => {
  const token = credentialFrom(request.headers.authorization)
  if (!token) throw errors.unauthenticated('send the source API token as "Authorization: Bearer <token>"')
  const source = await controlPlane.authenticateSource(token)
  if (!source) throw errors.unauthenticated('the API token is not valid')
  return source
}

export const notAFleet = (source: Source) =>
  new HourglassError(
    'NOT_A_DEVICE_FLEET',
    `source ${source.sourceId} is of kind "${source.kind}"; devices and their users belong to sources of kind "device"`,
  )

/** A device fleet the account owns: 404 when it owns no such source, 409 when it is not a fleet. */
export async function ownedFleet(controlPlane: ControlPlane, accountId: string, sourceId: string) {
  const source = await controlPlane.findOwned(accountId, sourceId)
  if (!source) throw errors.notFound('the source')
  if (source.kind !== 'device') throw notAFleet(source)
  return source
}

/** The fleet whose API token the request carries (401 otherwise); only device fleets send readings (403). */
export async function authenticateFleetRequest(controlPlane: ControlPlane, request: FastifyRequest) {
  const source = await authenticateSourceRequest(controlPlane, request)
  if (source.kind !== 'device') {
    throw errors.forbidden(
      `this is the API token of a source of kind "${source.kind}"; use the token of a device fleet (kind "device")`,
    )
  }
  return source
}

/**
 * A device user's own credentials, `Authorization: Basic base64(<user id>:<password>)`: the
 * user, null when the request carries no Basic credentials, a 401 when they are wrong.
 */
export async function authenticateDeviceUserRequest(
  controlPlane: ControlPlane,
  request: FastifyRequest,
): Promise<DeviceUser | null> {
  const credential = credentialFrom(request.headers.authorization, 'Basic')
  if (!credential) return null
  const decoded = Buffer.from(credential, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const wrong = errors.unauthenticated('the device user id or password is wrong')
  if (colon < 1 || colon > 64) throw wrong
  const user = await controlPlane.devices.checkUserPassword(decoded.slice(0, colon), decoded.slice(colon + 1))
  if (!user) throw wrong
  return user
}

/**
 * Metrica answers 403 to a request without a valid user token ("пользователь не авторизован").
 * The token is Hourglass's account token, sent as `Authorization: Bearer <jwt_token>`.
 */
export const authenticateMetricaUser = async (
  userTokens: UserTokens,
  request: FastifyRequest,
): Promise<UserPrincipal> => {
  const token = credentialFrom(request.headers.authorization)
  if (!token)
    throw errors.forbidden(
      'the user is not signed in: send "Authorization: Bearer <jwt_token>" from /auth/signin',
    )
  try {
    return await userTokens.verify(token)
  } catch (error) {
    if (error instanceof HourglassError && error.code === 'UNAUTHENTICATED')
      throw errors.forbidden(error.message)
    throw error
  }
}

/**
 * Who a The Eye request speaks for: a token from `/api-token-auth/` (which lives until revoked or
 * expired, whose account must still exist and whose member must still hold a role in it), or an account token of the native
 * API; sent as `Authorization: Token <token>` or `Bearer <token>`.
 */
export const authenticateTheEye = async (
  deps: { readonly controlPlane: ControlPlane; readonly userTokens: UserTokens },
  request: FastifyRequest,
): Promise<UserPrincipal> => {
  const token = theEyeCredential(request)
  if (!token)
    throw errors.unauthenticated('send the token from /api-token-auth/ as "Authorization: Token <token>"')
  if (!isEyeToken(token)) return deps.userTokens.verify(token)
  const principal = await deps.controlPlane.theEyeTokens.verify(token)
  if (!principal) throw errors.unauthenticated('the token is not valid: unknown or revoked')
  if (!(await deps.controlPlane.findAccount(principal.accountId)))
    throw errors.unauthenticated('the account of this token does not exist')
  if (
    principal.memberId !== null &&
    !(await deps.controlPlane.analystAccounts(principal.memberId)).includes(principal.accountId)
  )
    throw errors.unauthenticated('the member no longer has a role in the account: the token is not valid')
  return { accountId: principal.accountId }
}

export const theEyeCredential = (request: FastifyRequest) => {
  const header = request.headers.authorization
  return credentialFrom(header, 'Token') ?? credentialFrom(header, 'Bearer')
}

/**
 * The Eye has no apps: each account's sessions and events belong to one source of kind `site`,
 * named "the-eye", whose id derives from the account (so it is created once, however many
 * requests race to create it).
 */
export const theEyeSourceId = (accountId: string): string => {
  const hex = createHash('sha256').update(`the-eye\u0000${accountId}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-b${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}
