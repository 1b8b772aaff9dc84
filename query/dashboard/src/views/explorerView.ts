import type { RawEvent } from '../api.ts'
import { field, h, replaceChildren } from '../dom.ts'
import { formatDateTime } from '../timeRange.ts'
import type { ViewDefinition } from './view.ts'

const PAGE_SIZE = 50

/** The raw events of a source, filtered and a page at a time, and one event's full JSON. */
export const explorerView: ViewDefinition = {
  id: 'explorer',
  label: 'Event explorer',
  kinds: 'all',
  live: true,
  mount(container, { api, source, range, zone, requestRefresh }) {
    const name = h('input', { type: 'search', name: 'name', autocomplete: 'off', placeholder: 'any' })
    const session = h('input', { type: 'search', name: 'session', autocomplete: 'off', placeholder: 'any' })
    const person = h('input', { type: 'search', name: 'subject', autocomplete: 'off', placeholder: 'any' })
    const form = h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': 'Filter events' },
      field('Event name', name),
      field('Session', session),
      field('Person (subject)', person),
      h('button', { type: 'submit' }, 'Apply filters'),
    )
    const body = h('tbody', {})
    const table = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'events' },
        h('caption', {}, 'Events in event-time order (times in the chosen zone)'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Time', 'Name', 'Person', 'Session', 'Id'].map((label) => h('th', { scope: 'col' }, label)),
          ),
        ),
        body,
      ),
    )
    const pageLabel = h('span', { class: 'page-label', 'aria-live': 'polite' })
    const previous = h('button', { type: 'button' }, 'Previous page')
    const next = h('button', { type: 'button' }, 'Next page')
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of events' }, previous, pageLabel, next)
    const detailTitle = h('h3', { id: 'event-detail-title' }, 'Event')
    const detailJson = h('pre', { class: 'json', tabindex: '0', 'aria-labelledby': 'event-detail-title' })
    const detail = h(
      'section',
      { class: 'event-detail', 'aria-labelledby': 'event-detail-title', hidden: true },
      detailTitle,
      detailJson,
      h('button', { type: 'button', onclick: () => showEvent(null) }, 'Close'),
    )
    replaceChildren(
      container,
      h('h2', {}, 'Event explorer'),
      form,
      h('div', { class: 'explorer' }, h('div', { class: 'explorer-list' }, table, pager), detail),
    )

    /** Cursors of the pages before the current one; the first page has none. */
    let cursors: (string | undefined)[] = [undefined]
    let nextCursor: string | null = null
    let selected: string | null = null
    let events: readonly RawEvent[] = []
    let lastShown = ''

    function showEvent(event: RawEvent | null) {
      selected = event?.id ?? null
      detail.hidden = event === null
      for (const row of body.querySelectorAll('tr'))
        row.classList.toggle('selected', row.dataset.id === selected)
      if (!event) return
      detailTitle.textContent = `Event ${event.name} (${event.id})`
      detailJson.textContent = JSON.stringify(event, null, 2)
    }

    const load = async () => {
      const r = range()
      const page = await api.events(source.id, {
        from: r.from,
        to: r.to,
        name: name.value.trim(),
        session: session.value.trim(),
        subject: person.value.trim(),
        limit: PAGE_SIZE,
        cursor: cursors[cursors.length - 1],
      })
      const z = zone()
      // Live refreshes re-render only when the page changed, so focus and reading place stay put.
      const shown = `${z}|${cursors.length}|${page.nextCursor}|${page.events.map((e) => e.id).join(',')}`
      if (shown === lastShown) return
      lastShown = shown
      events = page.events
      nextCursor = page.nextCursor
      replaceChildren(
        body,
        events.length === 0
          ? h('tr', {}, h('td', { colspan: 5 }, 'No events match.'))
          : events.map((event) =>
              h(
                'tr',
                { 'data-id': event.id, class: event.id === selected ? 'selected' : null },
                h('td', {}, formatDateTime(event.timestamp, z)),
                h(
                  'td',
                  {},
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'link',
                      'aria-label': `Show event ${event.name} ${event.id}`,
                      onclick: () => showEvent(event),
                    },
                    event.name,
                  ),
                ),
                h('td', {}, event.subject ?? ''),
                h('td', {}, event.session ?? ''),
                h('td', { class: 'mono' }, event.id),
              ),
            ),
      )
      pageLabel.textContent = `Page ${cursors.length}, ${events.length} event${events.length === 1 ? '' : 's'}`
      previous.disabled = cursors.length <= 1
      next.disabled = nextCursor === null
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      cursors = [undefined]
      requestRefresh()
    })
    next.addEventListener('click', () => {
      if (nextCursor === null) return
      cursors.push(nextCursor)
      requestRefresh()
    })
    previous.addEventListener('click', () => {
      if (cursors.length <= 1) return
      cursors.pop()
      requestRefresh()
    })

    return {
      refresh: load,
      destroy() {},
    }
  },
}
