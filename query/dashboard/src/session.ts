/** The account token of this browser tab: kept in sessionStorage, gone when the tab closes. */
const KEY = 'hourglass.token'

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  save(token: string) {
    sessionStorage.setItem(KEY, token)
  },
  clear() {
    sessionStorage.removeItem(KEY)
  },
}

/** Toolbar choices survive reloads (they are not secrets). */
const PREFERENCES = 'hourglass.preferences'

export interface Preferences {
  readonly preset: string
  readonly fromDate: string
  readonly toDate: string
  readonly zone: string
  readonly live: boolean
}

export function loadPreferences(): Partial<Preferences> {
  try {
    return JSON.parse(localStorage.getItem(PREFERENCES) ?? '{}') as Partial<Preferences>
  } catch {
    return {}
  }
}

export function savePreferences(preferences: Preferences) {
  localStorage.setItem(PREFERENCES, JSON.stringify(preferences))
}
