import 'uplot/dist/uPlot.min.css'
import './styles.css'
import { type Api, ApiError, createApi, type Freshness, type Source } from './api.ts'
import { field, h, notice, replaceChildren, select } from './dom.ts'
import { loadPreferences, type Preferences, savePreferences, session } from './session.ts'
import {
  DAY_MS,
  dateIn,
  formatAge,
  formatDateTime,
  RANGE_PRESETS,
  type RangePreset,
  resolveRange,
  zoneChoices,
} from './timeRange.ts'
import { views } from './views/index.ts'
import { mountSignIn } from './views/signInView.ts'
import { type MountedView, servesKind } from './views/view.ts'

const LIVE_INTERVAL_MS = 2000
const TOKEN_REFRESH_MS = 15 * 60_000
const KIND_LABELS: Record<Source['kind'], string> = {
  app: 'Apps',
  store: 'Stores',
  device: 'Device fleets',
  place: 'Places',
  site: 'Sites',
}

const root = document.getElementById('app')!
let signInMessage: string | null = null
let sources: readonly Source[] | null = null
let mounted: MountedView | null = null
let liveTimer: ReturnType<typeof setInterval> | undefined

const api: Api = createApi({
  token: session.token,
  onUnauthenticated() {
    session.clear()
    sources = null
    signInMessage = 'Your session has ended: sign in again.'
    navigate('#/sign-in')
  },
})

const stored = loadPreferences()
const today = dateIn(Date.now(), 'UTC')
const preferences: Preferences = {
  preset: RANGE_PRESETS.some((p) => p.value === stored.preset) ? stored.preset! : '24h',
  fromDate: stored.fromDate || dateIn(Date.now() - 7 * DAY_MS, 'UTC'),
  toDate: stored.toDate || today,
  zone: stored.zone && zoneChoices().includes(stored.zone) ? stored.zone : 'UTC',
  live: stored.live ?? true,
}
const setPreference = (change: Partial<Preferences>) => {
  Object.assign(preferences, change)
  savePreferences(preferences)
}

/** What holds this source's data up, if anything: a stalled projection, records set aside. */
function heldUpNote(fresh: Freshness): string {
  const stalled = fresh.projections.filter((p) => p.stalledSince !== null).map((p) => p.projection)
  const notes = [
    ...(stalled.length > 0 ? [`held up: ${stalled.join(', ')} retrying`] : []),
    ...(fresh.quarantined > 0
      ? [`${fresh.quarantined} record${fresh.quarantined === 1 ? '' : 's'} held in quarantine`]
      : []),
  ]
  return notes.map((note) => ` · ${note}`).join('')
}

function navigate(hash: string) {
  if (location.hash === hash) void render()
  else location.hash = hash
}

function route():
  | { page: 'sign-in' }
  | { page: 'home' }
  | { page: 'source'; sourceId: string; viewId: string } {
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  if (parts[0] === 'sign-in') return { page: 'sign-in' }
  if (parts[0] === 'sources' && parts[1])
    return { page: 'source', sourceId: parts[1], viewId: parts[2] ?? 'overview' }
  return { page: 'home' }
}

const sourceHash = (sourceId: string, viewId: string) =>
  `#/sources/${encodeURIComponent(sourceId)}/${encodeURIComponent(viewId)}`

function unmount() {
  clearInterval(liveTimer)
  mounted?.destroy()
  mounted = null
}

async function render() {
  unmount()
  const where = route()
  if (!session.token()) {
    // A signed-out browser goes to sign in, whatever page it asked for.
    if (where.page !== 'sign-in') return navigate('#/sign-in')
  }
  if (where.page === 'sign-in') {
    if (session.token()) return navigate('#/')
    document.title = 'Sign in · Hourglass'
    const message = signInMessage
    signInMessage = null
    mountSignIn(root, api, message, (token) => {
      session.save(token)
      navigate('#/')
    })
    return
  }
  try {
    // Sources made since the list was read (in another tab, or through the API) are read anew.
    if (!sources || (where.page === 'source' && !sources.some((s) => s.id === where.sourceId)))
      sources = await api.sources()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return
    replaceChildren(root, notice(`Hourglass did not answer: ${String(error)}`, 'error'))
    return
  }
  if (where.page === 'home') {
    const first = sources[0]
    if (first) return navigate(sourceHash(first.id, 'overview'))
    return renderShell(null, null)
  }
  const source = sources.find((s) => s.id === where.sourceId) ?? null
  return renderShell(source, where.viewId)
}

function renderShell(source: Source | null, viewId: string | null) {
  const sourceSelect = select([], source?.id ?? '', { name: 'source' })
  const byKind = new Map<string, Source[]>()
  for (const s of sources ?? []) byKind.set(s.kind, [...(byKind.get(s.kind) ?? []), s])
  for (const [kind, list] of byKind) {
    sourceSelect.append(
      h(
        'optgroup',
        { label: KIND_LABELS[kind as Source['kind']] ?? kind },
        list.map((s) => h('option', { value: s.id }, `${s.name} (${s.kind})`)),
      ),
    )
  }
  if (!source) sourceSelect.prepend(h('option', { value: '' }, 'Choose a source'))
  sourceSelect.value = source?.id ?? ''
  sourceSelect.addEventListener('change', () => {
    if (sourceSelect.value) navigate(sourceHash(sourceSelect.value, viewId ?? 'overview'))
  })

  const freshness = h('p', { class: 'freshness', 'data-testid': 'freshness' })
  const signOut = h('button', { type: 'button' }, 'Sign out')
  signOut.addEventListener('click', () => {
    session.clear()
    sources = null
    signInMessage = 'You are signed out.'
    navigate('#/sign-in')
  })

  const preset = select(RANGE_PRESETS, preferences.preset, { name: 'range' })
  const fromDate = h('input', { type: 'date', name: 'from', value: preferences.fromDate })
  const toDate = h('input', { type: 'date', name: 'to', value: preferences.toDate })
  const custom = h('div', { class: 'custom-range' }, field('From', fromDate), field('To (included)', toDate))
  custom.hidden = preferences.preset !== 'custom'
  const zone = select(
    zoneChoices().map((z) => ({ value: z, label: z })),
    preferences.zone,
    { name: 'zone' },
  )
  const live = h('input', { type: 'checkbox', name: 'live', id: 'live-toggle', checked: preferences.live })
  const updated = h('span', { class: 'updated', 'aria-live': 'off' })
  const toolbar = h(
    'div',
    { class: 'toolbar', role: 'group', 'aria-label': 'Time range and refresh' },
    field('Time range', preset),
    custom,
    field('Time zone', zone),
    h('div', { class: 'field checkbox' }, live, h('label', { for: 'live-toggle' }, 'Live (every 2 s)')),
    updated,
  )

  const available = source ? views.filter((v) => servesKind(v, source.kind)) : []
  const view = available.find((v) => v.id === viewId) ?? available[0] ?? null
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': 'Views' },
    h(
      'ul',
      {},
      available.map((v) =>
        h(
          'li',
          {},
          h('a', { href: sourceHash(source!.id, v.id), 'aria-current': v === view ? 'page' : null }, v.label),
        ),
      ),
    ),
  )
  const errors = h('div', { class: 'errors' })
  const content = h('div', {
    class: 'view',
    'data-refreshes': '0',
    'data-source': source?.id ?? '',
    'data-view': viewId ?? '',
  })
  const main = h('main', { id: 'main', tabindex: '-1' }, errors, content)
  // The hash routes pages, so the skip link moves focus instead of following its href.
  const skipToMain = (event: Event) => {
    event.preventDefault()
    main.focus()
  }

  replaceChildren(
    root,
    h('a', { class: 'skip-link', href: '#main', onclick: skipToMain }, 'Skip to content'),
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' }, 'Hourglass'),
      field('Source', sourceSelect),
      freshness,
      signOut,
    ),
    toolbar,
    tabs,
    main,
  )

  if (!source) {
    document.title = 'Hourglass'
    replaceChildren(
      content,
      (sources?.length ?? 0) > 0
        ? notice('This source is not one of your account’s sources.', 'error')
        : h(
            'div',
            { class: 'empty' },
            h('h2', {}, 'No sources yet'),
            h(
              'p',
              {},
              'Create an app, store, device fleet or place with POST /v1/sources (see the API docs at ',
              h('a', { href: '/docs' }, '/docs'),
              '), send it events, and it appears here.',
            ),
          ),
    )
    return
  }
  if (!view) return
  const sourceId = source.id
  document.title = `${view.label} · ${source.name} · Hourglass`

  let refreshing = false
  let again = false
  const context = {
    api,
    source,
    requestRefresh: () => void refresh(),
    range: () =>
      resolveRange(
        {
          preset: preferences.preset as RangePreset,
          fromDate: preferences.fromDate,
          toDate: preferences.toDate,
        },
        preferences.zone,
        Date.now(),
      ),
    zone: () => preferences.zone,
  }
  const current = view.mount(content, context)
  mounted = current

  let refreshes = 0
  /** One refresh at a time; one asked for meanwhile runs after it, with the controls as they are then. */
  async function refresh(): Promise<void> {
    if (mounted !== current) return
    if (refreshing) {
      again = true
      return
    }
    refreshing = true
    try {
      const [, fresh] = await Promise.all([current.refresh(), api.freshness(sourceId)])
      const now = Date.now()
      freshness.textContent =
        (fresh.newestEventAt
          ? `Newest event ${formatAge(Date.parse(fresh.newestEventAt), now)} · projection lag ${fresh.lag}`
          : `No events yet · projection lag ${fresh.lag}`) + heldUpNote(fresh)
      freshness.classList.toggle('held-up', fresh.heldUp || fresh.quarantined > 0)
      freshness.title = fresh.newestEventAt ? formatDateTime(fresh.newestEventAt, preferences.zone) : ''
      updated.textContent = `Updated ${formatDateTime(now, preferences.zone)}`
      content.dataset.refreshes = String(++refreshes)
      replaceChildren(errors)
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return
      const text =
        error instanceof ApiError && error.status === 404
          ? 'This source is not one of your account’s sources.'
          : `Could not load this view: ${error instanceof Error ? error.message : String(error)}`
      replaceChildren(errors, notice(text, 'error'))
    } finally {
      refreshing = false
      if (again) {
        again = false
        void refresh()
      }
    }
  }

  const onToolbarChange = () => {
    setPreference({
      preset: preset.value,
      fromDate: fromDate.value || preferences.fromDate,
      toDate: toDate.value || preferences.toDate,
      zone: zone.value,
      live: live.checked,
    })
    custom.hidden = preset.value !== 'custom'
    void refresh()
  }
  for (const control of [preset, fromDate, toDate, zone, live])
    control.addEventListener('change', onToolbarChange)
  void refresh()
  liveTimer = setInterval(() => {
    if (preferences.live && view.live && document.visibilityState === 'visible') void refresh()
  }, LIVE_INTERVAL_MS)
}

setInterval(async () => {
  if (!session.token()) return
  try {
    session.save(await api.refresh())
  } catch {
    // A 401 already sent the page to sign in; anything else is tried again at the next interval.
  }
}, TOKEN_REFRESH_MS)

window.addEventListener('hashchange', () => void render())
void render()
